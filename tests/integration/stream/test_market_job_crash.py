"""A market job killed with SIGKILL mid-stream restarts from its checkpoint with no lost and no duplicated rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kafka_helpers import produce, tick_records
from marketpulse.config import Settings, StreamSettings, settings_env
from marketpulse.contracts import Topics
from marketpulse.features.bars import ticks_to_bars
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import heartbeat_key, latest_key, redis_client
from marketpulse.stream.market_job import LIVE_QUERY

from .test_market_job import _cassandra_rows, _ticks

pytestmark = pytest.mark.slow


def _wait_for_live_state(settings: Settings, symbols: list[str], timeout_s: float = 240) -> None:
    """Until the job has put every symbol's latest tick in Redis: it reached this test's ticks (the shared topic
    also holds other runs' ticks before them), so it holds open bars of them when it is killed."""
    client = redis_client(settings)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if all(client.hget(latest_key(symbol), "tick.price") is not None for symbol in symbols):
                return
            time.sleep(0.2)
    finally:
        client.close()
    raise AssertionError(f"the market job did not reach the ticks of {symbols} in {timeout_s}s")


def test_killed_job_resumes_from_checkpoint_without_gaps_or_duplicates(
    stack: Stack, settings: Settings, unique: str, tmp_path: Path
) -> None:
    symbols = [f"K{unique[:5].upper()}{i}" for i in range(2)]
    job_settings = settings.model_copy(
        update={
            "stream": StreamSettings(
                checkpoint_root=str(tmp_path / "ckpt"),
                max_offsets_per_trigger=300,
                trigger_interval="0 seconds",
                metrics_port=39109,
            )
        }
    )
    client = redis_client(settings)
    client.delete(heartbeat_key(LIVE_QUERY))
    client.close()
    ticks = _ticks(symbols, seed=5)
    # The second half is produced only after the kill: however fast the job is, the restarted one must continue
    # bars that the killed one had open (state from its snapshot), not start them afresh.
    half = len(ticks) // 2
    produce(settings, Topics.TICKS, tick_records(ticks.iloc[:half]))

    env = {**os.environ, **settings_env(job_settings)}
    job = subprocess.Popen(
        [sys.executable, "-m", "marketpulse", "stream", "market"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_live_state(settings, symbols)
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the driver and Spark's JVM, mid-stream, no clean shutdown
        job.wait(timeout=30)
    produce(settings, Topics.TICKS, tick_records(ticks.iloc[half:]))

    done = subprocess.run(
        [sys.executable, "-m", "marketpulse", "stream", "market", "--available-now"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (tmp_path / "restart.log").write_text(done.stdout + done.stderr)
    errors = [line for line in done.stderr.splitlines() if "Error" in line or "Exception" in line or "\tat " in line]
    assert done.returncode == 0, f"log: {tmp_path / 'restart.log'}\n" + "\n".join(errors[:60])

    bars = ticks_to_bars(ticks, "1min")
    closed = bars[bars.groupby("symbol")["ts"].transform("max") != bars["ts"]].reset_index(drop=True)
    for symbol in symbols:
        want = closed[closed["symbol"] == symbol].reset_index(drop=True)
        got = _cassandra_rows(settings, "bars", symbol, "1min")
        assert list(got["ts"]) == list(want["ts"]), symbol
        np.testing.assert_allclose(got["volume"], want["volume"], rtol=1e-12)
        np.testing.assert_allclose(got["close"], want["close"], rtol=1e-12)

    import psycopg

    with psycopg.connect(settings.postgres_dsn()) as conn:
        counts = dict(
            conn.execute(
                "SELECT symbol, count(*) FROM fact_bar_1m WHERE symbol = ANY(%s) GROUP BY symbol", (symbols,)
            ).fetchall()
        )
    assert counts == {s: int((closed["symbol"] == s).sum()) for s in symbols}

    # The raw lake holds every tick exactly once, although the killed run had spooled batches it never archived.
    import pyarrow.parquet as pq
    import s3fs

    from marketpulse.stores.objectstore import s3fs_options

    fs = s3fs.S3FileSystem(**s3fs_options(settings))
    landed = 0
    for symbol in symbols:
        for path in fs.glob(f"{settings.s3.buckets['raw']}/ticks/date=2013-02-01/symbol={symbol}/*.parquet"):
            with fs.open(path, "rb") as handle:
                landed += pq.read_table(handle).num_rows
    assert landed == len(ticks)
