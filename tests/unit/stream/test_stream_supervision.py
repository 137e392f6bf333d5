"""The stream supervisor judges a job only by what its current run wrote, leaves a job in start-up alone, and each
job's health thresholds come from one place; the Redis writer of the stream jobs rides out an outage."""

from __future__ import annotations

import logging

import pytest
import redis

from marketpulse.config import StreamSettings
from marketpulse.stack.instances import side_by_side_settings
from marketpulse.stores.redis_store import Beat, OutageRetry, heartbeat_key, heartbeat_query
from marketpulse.stream.jobs import MarketJobApp, SentimentJobApp
from marketpulse.stream.supervisor import (
    MARKET_JOB,
    SENTIMENT_JOB,
    SPARK_APPS,
    QueryHealth,
    is_keeper,
    judge,
    stream_job,
)


def _silent(lag: int | None = 9_299) -> QueryHealth:
    """A query with no heartbeat from this run (an older run's is ignored), input waiting."""
    return QueryHealth("market-live", None, None, None, lag)


def test_a_job_in_start_up_is_starting_not_stuck_within_its_grace() -> None:
    verdict, reason = judge(True, [_silent()], 180, started_s_ago=30, running=False, startup_grace_s=240)
    assert verdict == "starting", reason
    # The make-run-after-a-long-make-down case: silent for 915 s by the old heartbeat, but launched 30 s ago.
    assert judge(True, [_silent()], 180, started_s_ago=30, running=True, startup_grace_s=240)[0] == "healthy"
    assert judge(True, [_silent()], 180, started_s_ago=600, running=False, startup_grace_s=240)[0] == "stuck"
    assert judge(True, [_silent()], 180, started_s_ago=600, running=True, startup_grace_s=240)[0] == "stuck"


def test_a_heartbeat_counts_only_for_the_run_that_wrote_it() -> None:
    old = Beat(at=1_000.0, pid=7, batch_id=41)
    assert not old.since(2_000.0)
    assert Beat(at=2_000.5, pid=8, batch_id=0).since(2_000.0)
    assert old.since(None)
    assert old.age_s(now=1_915.0) == 915.0


def test_each_job_has_its_thresholds_in_one_place() -> None:
    settings = side_by_side_settings("unit", 0)
    market, sentiment = (stream_job(name).health(settings) for name in (MARKET_JOB, SENTIMENT_JOB))
    assert (market.stale_after_s, sentiment.stale_after_s) == (120.0, 300.0)
    assert market.stuck_after_s == sentiment.stuck_after_s == settings.airflow.stuck_after_s
    assert market.startup_grace_s == settings.airflow.restart_timeout_s


def test_platform_up_and_a_restart_launch_a_job_the_same_way() -> None:
    """One launch path: `platform up` starts spark-submit of the same entry point a restart submits."""
    from marketpulse.stack.services import SparkService

    settings = side_by_side_settings("unit", 0)
    if not SparkService(settings).connector_jars():
        pytest.skip("the Spark connector jars are not installed")
    for app, entry in ((MarketJobApp(settings), "market_job.py"), (SentimentJobApp(settings), "sentiment_job.py")):
        argv = app.command()
        # The job's keeper runs the spark-submit (and starts it again when the driver dies).
        assert is_keeper(argv)
        driver = argv[argv.index("--") + 1 :]
        assert driver[0].endswith("spark-submit") and driver[-1] == str(SPARK_APPS / entry)
        env = app.env()
        assert env["MARKETPULSE_STACK__NAME"] == "unit" and "SPARK_HOME" in env
        alone = type(app)(settings.model_copy(update={"stream": StreamSettings(keep_driver=False)})).command()
        assert alone == driver
    sentiment = SentimentJobApp(settings).command()
    assert sentiment[sentiment.index("--") + 1 :][2] == "local[1]"
    assert SentimentJobApp(settings).env()["MARKETPULSE_SPARK__MASTER"] == "local[1]"


def test_heartbeat_keys_round_trip() -> None:
    assert heartbeat_query(heartbeat_key("market-live")) == "market-live"


def test_outage_retry_waits_out_an_outage_and_logs_it_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = [0.0]
    attempts = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    def write() -> str:
        attempts.append(clock[0])
        if clock[0] < 60.0:
            raise redis.ConnectionError("Connection refused")
        return "written"

    retry = OutageRetry("test writer", give_up_after_s=600, sleep=sleep, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="marketpulse.stores.redis_store"):
        assert retry.call(write) == "written"
    assert retry.outages == 1 and retry.down_since is None
    assert 60.0 <= clock[0] <= 66.0  # the backoff caps at 5 s: caught up within seconds of Redis coming back
    assert len(attempts) < 30
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "unavailable" in messages[0] and "back after" in messages[1]


def test_outage_retry_gives_up_after_its_limit() -> None:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    def down() -> None:
        raise redis.TimeoutError("Timeout reading from socket")

    retry = OutageRetry("test writer", give_up_after_s=30, sleep=sleep, clock=lambda: clock[0])
    with pytest.raises(redis.TimeoutError):
        retry.call(down)
    assert 30.0 < clock[0] < 40.0


def test_outage_retry_lets_other_errors_through_at_once() -> None:
    retry = OutageRetry("test writer", sleep=lambda _: pytest.fail("no retry for a wrong command"))
    with pytest.raises(redis.ResponseError):
        retry.call(lambda: (_ for _ in ()).throw(redis.ResponseError("WRONGTYPE")))
