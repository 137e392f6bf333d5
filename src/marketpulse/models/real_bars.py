"""Real bars to evaluate the price models on, besides the replay (whose intraday paths are generated between real
daily bars, so minute-level skill there is skill on the generator).

- `daily`: the real daily history of the replay (bokeh-sampledata), one bar per session at the 16:00 close, for
  daily horizons (1d, 5d).
- Intraday sets shipped by registry packages under the MIT licence, converted once into small bar files under
  `realdata/` (provenance and licences in realdata/README.md; `convert_*` below rebuild them from the packages'
  files): `eurusd-1h` (hourly EUR/USD ask bars of 2017, gym-anytrading 2.0.0) and `es-1min` (1-minute bars built
  with the stream's bar code from 500,000 E-mini S&P 500 futures ticks of 1-3 September 2013, mlfinpy 0.1.2),
  and `etf-daily` (daily closes of 23 ETFs, 2008-2016, mlfinpy 0.1.2): a wider real cross-section than `daily`.

Nothing is downloaded at run time: the files ship with the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.errors import ConfigError
from marketpulse.features.bars import ticks_to_bars
from marketpulse.ingest.replay import load_daily_bars
from marketpulse.models.data import EXCHANGE_TZ, TrainingBars

REALDATA = Path(__file__).parent / "realdata"
BAR_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume"]


@dataclass(frozen=True)
class RealSet:
    """A shipped set of real bars and the horizons that make sense for its bar length."""

    file: str
    source: str
    horizons: tuple[str, ...]
    #: Walk-forward unit when the set holds too few sessions for session folds (see Dataset.block).
    block: str | None = None


REAL_SETS: dict[str, RealSet] = {
    "eurusd-1h": RealSet(
        "eurusd_1h_2017.csv.gz",
        "EUR/USD hourly ask bars 2017 (gym-anytrading 2.0.0, MIT: FOREX_EURUSD_1H_ASK.csv)",
        ("1h", "4h", "1d"),
    ),
    "es-1min": RealSet(
        "es_1min_2013-09.csv.gz",
        "E-mini S&P 500 futures 1-min bars of 2013-09-01..03 (mlfinpy 0.1.2, MIT: tick_data.csv)",
        ("1min", "5min", "15min"),
        block="1h",  # three sessions only: folds and bootstrap blocks of one hour
    ),
    "etf-daily": RealSet(
        "etf_daily_2008-2016.csv.gz",
        "23 ETFs' daily closes 2008-01-02..2016-07-01 (mlfinpy 0.1.2, MIT: stock_prices.csv)",
        ("1d", "5d"),
    ),
}
DATA_CHOICES = ("replay", "lake", "daily", *REAL_SETS)


def daily_bars(symbols: list[str], start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """The replay's real daily history as bars stamped at each session's 16:00 close (exchange time)."""
    daily = load_daily_bars(symbols, start, end)
    close_at = pd.to_datetime(daily["date"].astype(str) + " " + time(16).isoformat())
    ts = close_at.dt.tz_localize(EXCHANGE_TZ).dt.tz_convert("UTC")
    return daily.assign(ts=ts)[BAR_COLUMNS].sort_values(["symbol", "ts"]).reset_index(drop=True)


def real_bars(name: str, symbols: list[str] | None = None) -> TrainingBars:
    """Bars of a DATA_CHOICES set other than the replay and the lake (which `data.training_bars` reads)."""
    if name == "daily":
        bars = daily_bars(symbols or ["AAPL", "IBM", "MSFT", "GOOG"])
        source = "daily: real daily bars (bokeh-sampledata)"
    elif name in REAL_SETS:
        bars = pd.read_csv(REALDATA / REAL_SETS[name].file, parse_dates=["ts"])
        bars["ts"] = pd.to_datetime(bars["ts"], utc=True)
        source = f"{name}: {REAL_SETS[name].source}"
    else:
        raise ConfigError(f"unknown bar set {name!r}; choose one of {', '.join(DATA_CHOICES)}")
    days = pd.to_datetime(bars["ts"], utc=True).dt.tz_convert(EXCHANGE_TZ).dt.date
    return TrainingBars(bars, source, days.min(), days.max())


def convert_eurusd(csv_path: Path) -> pd.DataFrame:
    """gym-anytrading's FOREX_EURUSD_1H_ASK.csv (Time as dd.mm.yyyy HH:MM:SS.fff, UTC) -> BAR_COLUMNS."""
    raw = pd.read_csv(csv_path)
    ts = pd.to_datetime(raw["Time"], format="%d.%m.%Y %H:%M:%S.%f").dt.tz_localize("UTC")
    bars = pd.DataFrame({"symbol": "EURUSD", "ts": ts})
    for column in ("open", "high", "low", "close", "volume"):
        bars[column] = raw[column.capitalize()].astype("float64")
    # Weekend hours repeat the Friday close with zero volume: not trading, so not bars.
    return bars[bars["volume"] > 0].reset_index(drop=True)


def convert_etf_daily(csv_path: Path) -> pd.DataFrame:
    """mlfinpy's stock_prices.csv (Date, one close column per ETF) -> BAR_COLUMNS stamped at the 16:00 close;
    only closes are known, so open = high = low = close and volume is missing."""
    wide = pd.read_csv(csv_path, parse_dates=["Date"])
    long = wide.melt(id_vars="Date", var_name="symbol", value_name="close").dropna(subset=["close"])
    close_at = long["Date"] + pd.Timedelta(hours=16)
    ts = close_at.dt.tz_localize(EXCHANGE_TZ).dt.tz_convert("UTC")
    bars = pd.DataFrame({"symbol": long["symbol"], "ts": ts, "close": long["close"].round(4)})
    bars["open"] = bars["high"] = bars["low"] = bars["close"]
    bars["volume"] = float("nan")
    return bars[BAR_COLUMNS].sort_values(["symbol", "ts"]).reset_index(drop=True)


def convert_es_ticks(csv_path: Path) -> pd.DataFrame:
    """mlfinpy's tick_data.csv (DateTime in exchange time, America/Chicago; Price; Volume) -> 1-min BAR_COLUMNS,
    built with the stream's `ticks_to_bars`."""
    raw = pd.read_csv(csv_path)
    ts = pd.to_datetime(raw["DateTime"]).dt.tz_localize("America/Chicago").dt.tz_convert("UTC")
    ticks = pd.DataFrame({"symbol": "ES", "ts": ts, "price": raw["Price"], "size": raw["Volume"].astype("float64")})
    return ticks_to_bars(ticks, "1min")[BAR_COLUMNS]
