"""The cluster path, proven on this machine: a Spark standalone master and worker as separate processes, the
market job's driver here with a configured address, the project shipped to the executors (issue 14 item 1).

In local mode driver and executors share one JVM and one interpreter; here the executor is a JVM the worker
starts, which fetches the Kafka connector jars from the driver, calls it back at spark.driver.host, and imports
marketpulse from the zip the session ships (SparkContext.addPyFile, what --py-files does), not from the source tree.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from kafka_helpers import produce
from marketpulse.config import Settings, SparkSettings, StreamSettings
from marketpulse.contracts import Tick
from marketpulse.features.bars import ticks_to_bars
from marketpulse.models.price import MODEL_NAME, replay_minute_bars, train, training_set
from marketpulse.models.registry import ModelRegistry
from marketpulse.stack import install
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import latest_key, redis_client

# The market job test's day, reader and runner (the symbols here are this test's own).
from .test_market_job import START, _cassandra_rows, _run_until_done

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _outward_address() -> str:
    """This machine's non-loopback address if it has one (no packet is sent), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _wait(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def standalone(settings: Settings) -> Iterator[tuple[str, Path]]:
    """spark://host:port of a master and one worker (1 core, 1 GiB), each its own JVM; the worker's work dir."""
    import pyspark

    home = settings.stack.run_dir / "spark-standalone"
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    spark_home = Path(pyspark.__file__).parent
    java = str(install.find_java())
    # SPARK_SCALA_VERSION: the launcher that builds the executor command looks for a source build without it.
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_SCALA_VERSION": "2.13"}
    master_port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()

    def jvm(main: str, *args: str, log: str) -> subprocess.Popen[bytes]:
        with (home / log).open("wb") as out:
            return subprocess.Popen(
                [java, "-Xmx256m", "-cp", f"{spark_home}/jars/*", main, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    master = jvm(
        "org.apache.spark.deploy.master.Master",
        *("--host", "127.0.0.1", "--port", str(master_port), "--webui-port", str(master_ui)),
        log="master.log",
    )
    url = f"spark://127.0.0.1:{master_port}"
    worker = jvm(
        "org.apache.spark.deploy.worker.Worker",
        url,
        *("--host", "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port", str(worker_ui)),
        *("--work-dir", str(work)),
        log="worker.log",
    )

    def alive_workers() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{master_ui}/json/", timeout=2) as response:
            return int(json.load(response).get("aliveworkers", 0))

    try:
        _wait(lambda: alive_workers() == 1, 120, "the worker to register with the master")
        yield url, work
    finally:
        for process in (worker, master):
            process.terminate()
        for process in (worker, master):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _ticks(symbols: list[str]) -> list[Tick]:
    return [
        Tick(symbol=symbol, ts=START + timedelta(seconds=3 * i), price=100 + n * 10 + 0.01 * i, size=10, source="it")
        for n, symbol in enumerate(symbols)
        for i in range(8 * 20)  # 8 minutes of a tick every 3 s
    ]


def test_market_job_on_a_standalone_cluster(
    stack: Stack, settings: Settings, standalone: tuple[str, Path], unique: str, tmp_path: Path
) -> None:
    from marketpulse.stream.session import spark_session

    url, work = standalone
    driver_host = _outward_address()
    cluster_settings = settings.model_copy(
        update={
            "spark": SparkSettings(
                master=url, driver_host=driver_host, driver_bind_address="0.0.0.0", executor_memory="512m"
            ),
            "stream": StreamSettings(checkpoint_root=str(tmp_path / "ckpt"), max_offsets_per_trigger=400),
        }
    )
    symbols = [f"S{unique[:5].upper()}{i}" for i in range(2)]
    topic = f"it.standalone.{unique}"
    model = train(training_set(replay_minute_bars(["IBM"], date(2012, 11, 1), date(2012, 11, 9), 200, 1)), epochs=1)
    registry = ModelRegistry(settings)
    registry.promote(MODEL_NAME, registry.save(MODEL_NAME, model.weights, model.meta, version=f"it-{unique}"))
    ticks = _ticks(symbols)
    produce(settings, topic, [(tick.symbol, tick) for tick in ticks])

    spark = spark_session(cluster_settings, "marketpulse-standalone-it")
    try:
        assert spark.sparkContext.master == url
        assert spark.conf.get("spark.driver.host") == driver_host
        # The executor (another JVM, another Python) imports the shipped zip, not this checkout's sources.
        imported = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("marketpulse").__file__).collect()
        assert "marketpulse-" in imported[0] and ".zip" in imported[0], imported
        assert not imported[0].startswith(str(Path(__file__).resolve().parents[3]))

        _run_until_done(spark, cluster_settings, topic)  # the market job test's runner: available-now, then stop
        app_logs = list(work.glob("app-*/*/stderr"))
        assert app_logs, "no executor ran on the worker"
    finally:
        spark.stop()

    client = redis_client(settings)
    try:
        for symbol in symbols:
            last = [tick for tick in ticks if tick.symbol == symbol][-1]
            assert float(client.hget(latest_key(symbol), "tick.price")) == last.price
    finally:
        client.close()
    import pandas as pd

    frame = pd.DataFrame([{"symbol": t.symbol, "ts": t.ts, "price": t.price, "size": t.size} for t in ticks])
    bars = ticks_to_bars(frame, "1min")
    for symbol in symbols:
        # Every closed bar (all but the still-open last one) reached the history store, once.
        want = list(bars.loc[bars["symbol"] == symbol, "ts"])[:-1]
        assert list(_cassandra_rows(settings, "bars", symbol, "1min")["ts"]) == want, symbol
