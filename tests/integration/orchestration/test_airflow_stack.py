"""Airflow in the test stack: started and health-checked like any service, metadata in the stack's PostgreSQL,
login from Settings, the five DAGs parsed by the real DAG processor, and every connection made from Settings
usable by its official provider's hook against the real server.

The fixtures here (Airflow's metadata database, settings with every DAG paused) are shared by the other
Airflow tests, which run DAGs with dag.test() and need no running scheduler.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from marketpulse.config import Settings
from marketpulse.orchestration.airflow import (
    AirflowApiServer,
    airflow_env,
    airflow_python,
    airflow_services,
    api_url,
    dag_ids,
    ensure_airflow_venv,
    ensure_metadata_database,
    import_connections,
)
from marketpulse.stack.install import install_lock
from marketpulse.stack.manager import Stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def airflow_settings(settings: Settings) -> Settings:
    """The test stack's settings with Airflow creating every DAG paused (tests run DAGs themselves)."""
    return settings.model_copy(update={"airflow": settings.airflow.model_copy(update={"start_paused": True})})


#: Airflow homes whose database is migrated in this session: the fixture is imported by several modules,
#: which makes pytest run it once per module; migrating and importing again costs ~20 s for nothing.
_PREPARED: set[str] = set()


@pytest.fixture(scope="session")
def airflow_db(stack: Stack, airflow_settings: Settings) -> Settings:
    """Airflow's venv, its migrated metadata database in the test stack's PostgreSQL, and the connections."""
    key = str(airflow_settings.stack.run_dir)
    if key not in _PREPARED:
        with install_lock(airflow_settings.stack.cache_dir):
            ensure_airflow_venv(airflow_settings, progress=print)
        ensure_metadata_database(airflow_settings)
        import_connections(airflow_settings)
        _PREPARED.add(key)
    return airflow_settings


@pytest.fixture(scope="module")
def airflow_up(airflow_db: Settings) -> Iterator[Stack]:
    """The Airflow group (API server, scheduler, DAG processor) of the test stack, reused when already healthy."""
    group = Stack(airflow_db, progress=print, services=airflow_services(airflow_db))
    running = all(row.healthy for row in group.status())
    if not running:
        group.up()
    yield group
    if not running:
        group.down()


def _token(settings: Settings) -> str:
    response = httpx.post(
        f"{api_url(settings)}/auth/token",
        json={"username": settings.airflow.admin_user, "password": settings.airflow.admin_password.get_secret_value()},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def test_airflow_is_up_healthy_and_keeps_its_metadata_in_the_stack_postgres(
    airflow_up: Stack, airflow_db: Settings
) -> None:
    rows = {row.name: row for row in airflow_up.status()}
    assert set(rows) == {"airflow-api", "airflow-scheduler", "airflow-dag-processor"}
    assert all(row.healthy and row.pid for row in rows.values()), rows

    import psycopg

    with psycopg.connect(airflow_db.postgres_dsn(airflow_db.airflow.database)) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"dag", "dag_run", "task_instance", "connection"} <= tables


def test_login_from_settings_and_the_dag_processor_parsed_every_dag(airflow_up: Stack, airflow_db: Settings) -> None:
    refused = httpx.post(
        f"{api_url(airflow_db)}/auth/token", json={"username": "admin", "password": "wrong"}, timeout=10
    )
    assert refused.status_code in (401, 403)
    headers = {"Authorization": f"Bearer {_token(airflow_db)}"}
    dags = set(dag_ids(airflow_db.airflow.dags_folder))  # the DAG folder declares them: one per file
    deadline = time.monotonic() + 120
    found: set[str] = set()
    while time.monotonic() < deadline and found != dags:
        body = httpx.get(f"{api_url(airflow_db)}/api/v2/dags", headers=headers, timeout=10).json()
        found = {dag["dag_id"] for dag in body["dags"]} & dags
        time.sleep(2)
    assert dags and found == dags
    errors = httpx.get(f"{api_url(airflow_db)}/api/v2/importErrors", headers=headers, timeout=10).json()
    assert errors["total_entries"] == 0, errors


def test_api_server_refuses_to_start_without_the_stack_postgres(airflow_db: Settings) -> None:
    from marketpulse.config import PostgresSettings
    from marketpulse.errors import StackError

    broken = airflow_db.model_copy(update={"postgres": PostgresSettings(port=1)})
    with pytest.raises(StackError, match="start the stack first"):
        AirflowApiServer(broken).prepare()


PROVIDER_PROBES = """
import json
import os

from airflow.models.connection import Connection as StoredConnection
from airflow.utils.session import create_session

# Outside a task, Airflow 3 hooks read connections from secrets backends only: hand them the stored ones.
with create_session() as session:
    for stored in session.query(StoredConnection).filter(StoredConnection.conn_id.like("marketpulse_%")):
        os.environ["AIRFLOW_CONN_" + stored.conn_id.upper()] = stored.as_json()

from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.providers.redis.hooks.redis import RedisHook
from airflow.providers.apache.cassandra.hooks.cassandra import CassandraHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

out = {}
admin = KafkaAdminClientHook(kafka_config_id="marketpulse_kafka").get_conn
out["kafka"] = len(admin.list_topics(timeout=10).brokers)
out["postgres"] = PostgresHook(postgres_conn_id="marketpulse_postgres").get_first("SELECT current_database()")[0]
out["redis"] = RedisHook(redis_conn_id="marketpulse_redis").get_conn().ping()
cassandra = CassandraHook(cassandra_conn_id="marketpulse_cassandra")
out["cassandra"] = cassandra.get_conn().execute("SELECT release_version FROM system.local").one()[0]
cassandra.shutdown_cluster()
out["s3"] = S3Hook(aws_conn_id="marketpulse_s3").check_for_bucket(BUCKET)
out["spark"] = SparkSubmitHook(conn_id="marketpulse_spark")._connection["master"]
print("PROBES " + json.dumps(out))
"""


def test_every_connection_from_settings_works_with_its_official_provider_hook(airflow_db: Settings) -> None:
    script = PROVIDER_PROBES.replace("BUCKET", repr(airflow_db.s3.buckets["raw"]))
    done = subprocess.run(
        [str(airflow_python(airflow_db)), "-c", script],
        env={**airflow_env(airflow_db)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBES ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    probes = json.loads(lines[-1].removeprefix("PROBES "))
    assert probes["kafka"] >= 1
    assert probes["postgres"] == airflow_db.postgres.database
    assert probes["redis"] is True
    assert probes["cassandra"].startswith("5.")
    assert probes["s3"] is True
    assert probes["spark"] == airflow_db.spark.master
