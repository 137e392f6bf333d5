"""Training data from our own stores: 1-min bars -> the stream's features -> point-in-time forward labels.

Features at bar t come from `marketpulse.features` (the code the stream runs) and use bars up to t only.
A label for horizon h is the log return from the close of bar t to the close of the bar h later: the bar
starting exactly h minutes later in the same session ("5min"), or the bar at the same exchange-local time
n sessions later ("1d"). A missing target bar means no label, never a neighbour's close.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq

from marketpulse.errors import ConfigError
from marketpulse.features.bars import ticks_to_bars
from marketpulse.features.indicators import indicators
from marketpulse.features.model_inputs import MODEL_INPUT_COLUMNS, model_inputs
from marketpulse.features.sentiment import bar_sentiment_features
from marketpulse.ingest.replay import day_rng, intraday_ticks, load_daily_bars
from marketpulse.models.tabular import SENTIMENT_COLUMNS, tabular_features
from marketpulse.stores.cassandra import cassandra_section
from marketpulse.stores.objectstore import lake_filesystem
from marketpulse.stores.sentiment import CassandraSentiment

if TYPE_CHECKING:
    from marketpulse.config import Settings

EXCHANGE_TZ = "America/New_York"
_HORIZON = re.compile(r"^(\d+)(min|h|d)$")


class NotEnoughDataError(ConfigError):
    """The stores hold too little history for the asked range; the message says how much there is."""


@dataclass(frozen=True)
class Horizon:
    """A label horizon: either `minutes` within the session or `sessions` ahead at the same local time."""

    name: str
    minutes: int = 0
    sessions: int = 0

    @classmethod
    def parse(cls, name: str) -> Horizon:
        match = _HORIZON.match(name)
        if not match or int(match.group(1)) == 0:
            raise ConfigError(f"horizon {name!r} is not <n>min, <n>h or <n>d with n >= 1 (e.g. 1min, 5min, 1d)")
        n, unit = int(match.group(1)), match.group(2)
        if unit == "d":
            return cls(name, sessions=n)
        return cls(name, minutes=n * (60 if unit == "h" else 1))


def forward_labels(bars: pd.DataFrame, horizon: Horizon) -> pd.DataFrame:
    """Per bar (same index): `ret` = log(close at target / close), `end_ts` = the target bar's ts (NaN/NaT: none)."""
    ts = pd.to_datetime(bars["ts"], utc=True)
    local = ts.dt.tz_convert(EXCHANGE_TZ)
    session = local.dt.normalize()  # local midnight of the bar's session
    if horizon.sessions:
        days = pd.DataFrame({"symbol": bars["symbol"], "session": session}).drop_duplicates()
        days = days.sort_values(["symbol", "session"])
        days["target"] = days.groupby("symbol")["session"].shift(-horizon.sessions)
        target_session = pd.DatetimeIndex(
            pd.merge(
                pd.DataFrame({"symbol": bars["symbol"], "session": session}),
                days,
                on=["symbol", "session"],
                how="left",
            )["target"]
        )
        if target_session.tz is None:  # every target NaT (no later session yet, e.g. live): the zone is lost
            target_session = target_session.tz_localize(EXCHANGE_TZ)
        # Same wall-clock time in the target session (DST-correct: we add the local time of day to local midnight).
        time_of_day = (local - session).to_numpy()
        target_local = target_session + pd.to_timedelta(time_of_day)
        target_ts = pd.Series(target_local.tz_convert("UTC"), index=bars.index)
    else:
        target_ts = ts + pd.Timedelta(minutes=horizon.minutes)
        same_session = target_ts.dt.tz_convert(EXCHANGE_TZ).dt.normalize() == session
        target_ts = target_ts.where(same_session)
    close_at = pd.Series(
        bars["close"].to_numpy(dtype=np.float64), index=pd.MultiIndex.from_arrays([bars["symbol"], ts])
    )
    target_close = close_at.reindex(pd.MultiIndex.from_arrays([bars["symbol"], target_ts])).to_numpy()
    ret = np.log(target_close / bars["close"].to_numpy(dtype=np.float64))
    found = ~np.isnan(ret)
    return pd.DataFrame({"ret": ret, "end_ts": target_ts.where(pd.Series(found, index=bars.index))}, index=bars.index)


@dataclass(frozen=True)
class Dataset:
    """Bars with features and labels, sorted by symbol then ts, plus the arrays models read.

    `inputs[i]` are MODEL_INPUT_COLUMNS of row i; `window_ok[i]` says rows i-window+1..i are the same symbol
    and all complete, so a sequence model can score row i; `ret[h][i]`/`end_ns[h][i]` are row i's label;
    `tabular[i]` are TABULAR_COLUMNS of row i (NaN where a source is missing).
    """

    frame: pd.DataFrame
    inputs: np.ndarray[Any, np.dtype[np.float32]]
    window: int
    window_ok: np.ndarray[Any, np.dtype[np.bool_]]
    horizons: list[Horizon]
    ret: dict[str, np.ndarray[Any, np.dtype[np.float64]]]
    end_ns: dict[str, np.ndarray[Any, np.dtype[np.int64]]]
    tabular: np.ndarray[Any, np.dtype[np.float32]] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    #: Walk-forward unit: None = exchange sessions; a pandas frequency ("1h") = blocks of that length, for data
    #: too short to hold enough sessions (the block bootstrap then resamples these blocks too).
    block: str | None = None

    @property
    def ts_ns(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.asarray(self.frame["ts"].astype("int64").to_numpy(), dtype=np.int64)

    @property
    def sessions(self) -> np.ndarray[Any, Any]:
        """Exchange-local session date of every row (or the start of its `block`)."""
        ts = pd.to_datetime(self.frame["ts"], utc=True)
        if self.block is not None:
            return np.array(ts.dt.floor(self.block).tolist(), dtype=object)
        return np.asarray(ts.dt.tz_convert(EXCHANGE_TZ).dt.date.to_numpy())

    def windows(self, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """(len(rows), window, features): the inputs of the `window` bars ending at each row."""
        offsets = np.arange(-self.window + 1, 1)
        return self.inputs[rows[:, None] + offsets[None, :]]


#: Bar columns besides the close that models read when present (volume; the sentiment the stream fuses in).
EXTRA_BAR_COLUMNS = ["volume", *SENTIMENT_COLUMNS]


def build_dataset(bars: pd.DataFrame, horizons: Sequence[str], window: int, block: str | None = None) -> Dataset:
    """Features (the stream's code) and labels for every bar; see Dataset."""
    if bars.empty:
        raise NotEnoughDataError("no bars to build a dataset from")
    features = indicators(bars)  # sorted by symbol, ts; index 0..n-1
    # indicators() keeps symbol, ts, close: carry volume and sentiment along in the same (stable) order.
    ordered = bars.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
    for column in EXTRA_BAR_COLUMNS:
        if column in ordered:
            features[column] = ordered[column].to_numpy()
    return replace(dataset_from_features(features, horizons, window), block=block)


def complete_runs(complete: np.ndarray[Any, Any], codes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per row, how many complete rows of the same symbol end at it (rows sorted by symbol, then time)."""
    n = len(complete)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    complete = complete.astype(bool)
    breaks = ~complete | np.concatenate(([True], codes[1:] != codes[:-1]))
    # The latest break at or before each row: an incomplete row (the run starts after it) or a symbol's first
    # row (the run starts at it, if it is complete).
    last_break = np.maximum.accumulate(np.where(breaks, np.arange(n), 0))
    run = np.arange(n) - last_break + complete[last_break].astype(np.int64)
    return np.where(complete, run, 0).astype(np.int64)


def dataset_from_features(features: pd.DataFrame, horizons: Sequence[str], window: int) -> Dataset:
    """A Dataset from indicator rows sorted by symbol, ts (training adds labels; the stream passes no horizons)."""
    parsed = [Horizon.parse(name) for name in horizons]
    features = features.reset_index(drop=True)
    inputs_frame = model_inputs(features)
    complete = inputs_frame.notna().all(axis=1).to_numpy()
    run = complete_runs(complete, pd.factorize(features["symbol"])[0])
    ret: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    end_ns: dict[str, np.ndarray[Any, np.dtype[np.int64]]] = {}
    for horizon in parsed:
        labels = forward_labels(features, horizon)
        ret[horizon.name] = labels["ret"].to_numpy(dtype=np.float64)
        end = pd.to_datetime(labels["end_ts"], utc=True)
        end_ns[horizon.name] = np.where(end.isna(), np.iinfo(np.int64).max, end.astype("int64")).astype(np.int64)
    values = np.nan_to_num(inputs_frame[MODEL_INPUT_COLUMNS].to_numpy(dtype=np.float32))
    tabular = tabular_features(features, inputs_frame).to_numpy(dtype=np.float32)
    return Dataset(features, values, window, run >= window, parsed, ret, end_ns, tabular)


def replay_minute_bars(
    symbols: Sequence[str], start: date | None, end: date | None, ticks_per_day: int, seed: int
) -> pd.DataFrame:
    """1-min bars of the replay history: exactly what the replay stream produces for the same seed."""
    daily = load_daily_bars(list(symbols), start, end)
    frames = []
    for bar in daily.itertuples(index=False):
        ticks = intraday_ticks(pd.Series(bar._asdict()), ticks_per_day, day_rng(seed, bar.symbol, bar.date))
        ticks.insert(0, "symbol", bar.symbol)
        frames.append(ticks_to_bars(ticks, "1min"))
    return pd.concat(frames, ignore_index=True)


def lake_minute_bars(settings: Settings, symbols: Sequence[str], start: date, end: date) -> pd.DataFrame:
    """1-min bars from the raw tick lake (what the stream landed), built with the stream's bar code."""
    fs = lake_filesystem(settings)
    root = f"{settings.s3.buckets['raw']}/ticks"
    frames = []
    for day_dir in sorted(fs.glob(f"{root}/date=*")):
        day = date.fromisoformat(day_dir.rsplit("date=", 1)[1])
        if not start <= day <= end:
            continue
        for symbol in symbols:
            folder = f"{day_dir}/symbol={symbol}"
            if not fs.exists(folder):
                continue
            # One read of the whole partition: pyarrow fetches its many small batch files in parallel.
            part = pq.read_table(folder, filesystem=fs, columns=["ts", "price", "size"]).to_pandas()
            part.insert(0, "symbol", symbol)
            frames.append(part)
    if not frames:
        return pd.DataFrame(columns=["symbol", "ts", "close"])
    ticks = pd.concat(frames, ignore_index=True)
    # The stream may land a tick twice only if a batch was rewritten under another id; a tick is (symbol, ts, price).
    ticks = ticks.drop_duplicates(subset=["symbol", "ts", "price", "size"])
    return ticks_to_bars(ticks, "1min")


def lake_sessions(settings: Settings) -> list[date]:
    """Session dates present in the raw tick lake."""
    fs = lake_filesystem(settings)
    root = f"{settings.s3.buckets['raw']}/ticks"
    try:
        dirs = fs.glob(f"{root}/date=*")
    except FileNotFoundError:
        return []
    return sorted(date.fromisoformat(d.rsplit("date=", 1)[1]) for d in dirs)


def with_stored_sentiment(settings: Settings, bars: pd.DataFrame) -> pd.DataFrame:
    """bars + the sentiment features each bar's prediction would have had: windows recomputed from the scored texts
    the sentiment job stored (Cassandra), joined point in time exactly as the market job fuses them live
    (`features.sentiment.bar_sentiment_features`). Bars without stored texts keep NaN (no sentiment)."""
    if bars.empty:
        return bars
    cfg = settings.sentiment
    length, max_age = pd.Timedelta(cfg.window), pd.Timedelta(cfg.max_age)
    ts = pd.to_datetime(bars["ts"], utc=True)
    # Texts that can reach the first bar: its window, the buzz baseline's windows before it, and max_age.
    start = (ts.min() - max_age - (cfg.baseline_windows + 1) * length).to_pydatetime()
    end = ts.max().to_pydatetime()
    store = CassandraSentiment(cassandra_section(settings))
    try:
        items = [store.read_items(symbol, start, end) for symbol in sorted(bars["symbol"].unique())]
    finally:
        store.close()
    found = pd.concat(items, ignore_index=True) if items else pd.DataFrame()
    if found.empty:
        return bars
    joined = bar_sentiment_features(
        bars.reset_index(drop=True), found, length=length, baseline=cfg.baseline_windows, max_age=max_age
    )
    return joined.drop(columns="sentiment_window_end")


@dataclass(frozen=True)
class TrainingBars:
    """Bars for training and where they came from (recorded in the model's metadata)."""

    bars: pd.DataFrame
    source: str
    start: date
    end: date


def training_bars(settings: Settings, symbols: Sequence[str] | None = None) -> TrainingBars:
    """The newest `models.train_sessions` sessions of 1-min bars from the lake, or from the replay history."""
    cfg = settings.models
    wanted = list(symbols or cfg.symbols)
    source = cfg.data_source
    if source in ("auto", "lake"):
        days = lake_sessions(settings)
        if len(days) >= cfg.train_sessions:
            start, end = days[-cfg.train_sessions], days[-1]
            bars = lake_minute_bars(settings, wanted, start, end)
            if not bars.empty:
                return TrainingBars(with_stored_sentiment(settings, bars), "lake", start, end)
        if source == "lake":
            raise NotEnoughDataError(
                f"the raw lake holds {len(days)} sessions, fewer than models.train_sessions={cfg.train_sessions}; "
                "stream more history (marketpulse ingest replay) or set MARKETPULSE_MODELS__DATA_SOURCE=replay"
            )
    end = date.fromisoformat(cfg.replay_end)
    daily = load_daily_bars(wanted, None, end)
    sessions = sorted(set(daily["date"]))[-cfg.train_sessions :]
    bars = replay_minute_bars(wanted, sessions[0], sessions[-1], cfg.ticks_per_day, cfg.seed)
    return TrainingBars(bars, "replay", sessions[0], sessions[-1])
