"""Airflow 3 in the local stack: its own venv, its configuration, and its three processes as stack services.

Airflow's pins (fastapi, pandas 3, pyarrow 26, sqlalchemy 2.1, boto3) clash with the project's, so Airflow
lives in its own venv under the stack cache (see docs/decisions/0009-airflow.md). DAG files import only
Airflow; their tasks run `marketpulse` code in the project's interpreter (`@task.external_python`).
Every Airflow process gets the whole Settings as MARKETPULSE_* variables, so a task builds the same
Settings as the process that started the stack, whatever its working directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from marketpulse.config import Settings, settings_env
from marketpulse.errors import StackError
from marketpulse.orchestration.connections import airflow_connections
from marketpulse.stack.install import Progress
from marketpulse.stack.process import run_checked
from marketpulse.stack.services import Service

RESOURCES = Path(__file__).parent / "resources"
LOCK_FILE = RESOURCES / "airflow-requirements.txt"
#: Set in Airflow's processes: the interpreter that runs the tasks' marketpulse code (the project venv).
PROJECT_PYTHON_ENV = "MARKETPULSE_AIRFLOW_PROJECT_PYTHON"


def project_python() -> Path:
    """The interpreter of the project venv (the one running this code)."""
    return Path(sys.executable)


def airflow_venv(settings: Settings) -> Path:
    return settings.stack.cache_dir / "airflow" / f"venv-{settings.airflow.version}"


def airflow_python(settings: Settings) -> Path:
    return airflow_venv(settings) / "bin" / "python"


def ensure_airflow_venv(settings: Settings, progress: Progress) -> Path:
    """Create Airflow's venv and install the pinned set into it; a no-op when the lock file is unchanged."""
    venv = airflow_venv(settings)
    stamp = hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()
    stamp_file = venv / ".installed"
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return venv
    base_python = getattr(sys, "_base_executable", sys.executable)
    progress(f"installing Airflow {settings.airflow.version} into {venv} (first time only: ~1-2 min, ~800 MB)")
    if not (venv / "bin" / "python").exists():
        run_checked([base_python, "-m", "venv", str(venv)], what="creating Airflow's venv", timeout_s=300)
    run_checked(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(LOCK_FILE),
        ],
        what="pip install of Airflow and its providers",
        timeout_s=3600,
    )
    stamp_file.write_text(stamp)
    return venv


def airflow_home(settings: Settings) -> Path:
    return settings.stack.run_dir / "airflow"


def _instance_secrets(home: Path) -> dict[str, str]:
    """Fernet, API and JWT keys of this instance: made once, shared by its processes (tokens must verify)."""
    path = home / "secrets.json"
    if path.is_file():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    home.mkdir(parents=True, exist_ok=True)
    made = {
        "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "secret_key": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(32),
    }
    path.write_text(json.dumps(made))
    path.chmod(0o600)
    return made


def api_url(settings: Settings) -> str:
    return f"http://{settings.stack.host}:{settings.airflow.port}"


def metadata_dsn(settings: Settings) -> str:
    """SQLAlchemy URL of Airflow's metadata database (secret: never log it).

    User, password and database are percent-encoded whole (SQLAlchemy decodes them), so '@', '/', ':' or '%' in a
    password cannot move the host, and Airflow's expansion of '$VAR' and '~' in env values finds nothing to expand.
    """
    pg = settings.postgres
    host = settings.postgres_host
    netloc_host = f"[{host}]" if ":" in host else host  # an IPv6 literal
    user, password, database = (
        quote(part, safe="") for part in (pg.user, pg.password.get_secret_value(), settings.airflow.database)
    )
    return f"postgresql+psycopg2://{user}:{password}@{netloc_host}:{pg.port}/{database}"


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment of every Airflow process of this stack: its configuration and the platform's Settings."""
    home = airflow_home(settings)
    keys = _instance_secrets(home)
    af = settings.airflow
    venv_bin = airflow_venv(settings) / "bin"
    return {
        **settings_env(settings),
        PROJECT_PYTHON_ENV: str(project_python()),
        # Airflow's own venv first: `airflow` and its python; the project venv's spark-submit is named in full.
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(af.dags_folder),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(af.parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(af.parallelism),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{af.admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url(settings)}/execution/",
        "AIRFLOW__API__BASE_URL": api_url(settings),
        "AIRFLOW__API__HOST": settings.stack.host,
        "AIRFLOW__API__PORT": str(af.port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": keys["secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_dsn(settings),
        # Lean pools: three processes plus task runners share the stack's PostgreSQL.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        # Fewer glibc malloc arenas: freed memory of the components' threads goes back instead of staying resident.
        "MALLOC_ARENA_MAX": "2",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Nothing but package registries is reachable: no usage reports, no lineage endpoint.
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
    }


def run_airflow_cli(settings: Settings, *args: str, what: str, timeout_s: float = 600) -> str:
    """Run `airflow <args>` of this stack's Airflow (its venv, home and metadata database)."""
    airflow = airflow_venv(settings) / "bin" / "airflow"
    if not airflow.exists():
        raise StackError(f"Airflow is not installed at {airflow}; run `marketpulse stack install`")
    return run_checked([str(airflow), *args], what=what, env=airflow_env(settings), timeout_s=timeout_s)


def ensure_metadata_database(settings: Settings) -> None:
    """Create Airflow's database in the stack's PostgreSQL, then migrate it (idempotent)."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(settings.postgres_dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (settings.airflow.database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.airflow.database)))
    except psycopg.OperationalError as exc:
        raise StackError(
            f"Airflow keeps its metadata in the stack's PostgreSQL, which does not answer ({exc}); "
            "start the stack first: marketpulse stack up"
        ) from exc
    run_airflow_cli(settings, "db", "migrate", what="airflow db migrate", timeout_s=900)


def write_login(settings: Settings) -> None:
    """The simple auth manager's password file: the admin login comes from Settings, not a generated one."""
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "passwords.json"
    path.write_text(json.dumps({settings.airflow.admin_user: settings.airflow.admin_password.get_secret_value()}))
    path.chmod(0o600)


def import_connections(settings: Settings) -> list[str]:
    """Create or overwrite the platform's connections in Airflow's metadata database; return their ids."""
    connections = airflow_connections(settings)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "connections.json"
        path.write_text(json.dumps(connections))
        run_airflow_cli(settings, "connections", "import", "--overwrite", str(path), what="airflow connections import")
    return sorted(connections)


def airflow_health(settings: Settings) -> dict[str, Any]:
    """The API server's /api/v2/monitor/health body (metadatabase, scheduler, dag_processor, triggerer)."""
    import httpx

    response = httpx.get(f"{api_url(settings)}/api/v2/monitor/health", timeout=5)
    if response.status_code != 200:
        raise StackError(f"Airflow health answered {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


class _AirflowComponent(Service):
    """One Airflow process of this stack, run from Airflow's venv with the stack's configuration."""

    component: str
    #: Key of this component in the health body.
    health_key: str

    @property
    def home(self) -> Path:
        return airflow_home(self.settings) / self.component

    def ports(self) -> dict[str, int]:
        return {}

    def install(self, progress: Progress) -> None:
        ensure_airflow_venv(self.settings, progress)

    def command(self) -> list[str]:
        return [str(airflow_venv(self.settings) / "bin" / "airflow"), self.component]

    def env(self) -> dict[str, str]:
        return airflow_env(self.settings)

    def check(self) -> str:
        status = (airflow_health(self.settings).get(self.health_key) or {}).get("status")
        if status != "healthy":
            raise StackError(f"{self.health_key} is {status or 'not reported'}")
        return f"Airflow {self.settings.airflow.version} {self.component}"

    def endpoint(self) -> str:
        return api_url(self.settings)


class AirflowApiServer(_AirflowComponent):
    """UI, REST API and the execution API the task runners report to; migrates the metadata database first."""

    name = "airflow-api"
    component = "api-server"
    health_key = "metadatabase"

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.airflow.port}

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        ensure_metadata_database(self.settings)
        write_login(self.settings)

    def command(self) -> list[str]:
        return [*super().command(), "--host", self.host, "--port", str(self.settings.airflow.port)]

    def check(self) -> str:
        super().check()
        return f"Airflow {self.settings.airflow.version} UI + API, login {self.settings.airflow.admin_user}"

    def after_ready(self) -> None:
        import_connections(self.settings)


class AirflowScheduler(_AirflowComponent):
    """Schedules DAG runs and runs their tasks with the LocalExecutor."""

    name = "airflow-scheduler"
    component = "scheduler"
    health_key = "scheduler"

    def command(self) -> list[str]:
        # No log server process (~0.14 GiB): tasks run on this machine and write under the shared log folder,
        # which the API server reads directly.
        return [*super().command(), "--skip-serve-logs"]


class AirflowDagProcessor(_AirflowComponent):
    """Parses the DAG files in airflow/dags into the metadata database."""

    name = "airflow-dag-processor"
    component = "dag-processor"
    health_key = "dag_processor"


def airflow_services(settings: Settings) -> list[Service]:
    """The Airflow group, in start order (the API server migrates the database the others need)."""
    return [AirflowApiServer(settings), AirflowScheduler(settings), AirflowDagProcessor(settings)]


@dataclass(frozen=True)
class DagRunResult:
    """Outcome of one `dag.test()` run: the run's state and every task instance's state."""

    dag_id: str
    state: str
    tasks: dict[str, str]
    output: str


def dag_ids(dags_folder: Path) -> list[str]:
    """The platform's DAGs, declared by the DAG folder: one per file, named as the file (a unit test checks each
    file's dag_id); files starting with an underscore are the DAGs' shared helpers."""
    return sorted(path.stem for path in dags_folder.glob("*.py") if not path.name.startswith("_"))


def run_dag_test(
    settings: Settings, dag_id: str, conf: dict[str, Any] | None = None, timeout_s: float = 900
) -> DagRunResult:
    """Run a DAG once with `dag.test()` in Airflow's venv against this stack (no scheduler needed)."""
    known = dag_ids(settings.airflow.dags_folder)
    if dag_id not in known:
        raise StackError(f"no DAG {dag_id!r} in {settings.airflow.dags_folder}; known: {', '.join(known)}")
    script = RESOURCES / "dag_test.py"
    env = {**os.environ, **airflow_env(settings)}
    done = subprocess.run(
        [str(airflow_python(settings)), str(script), dag_id, json.dumps(conf or {})],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    marker = [line for line in done.stdout.splitlines() if line.startswith("DAG_TEST_RESULT ")]
    if not marker:
        raise StackError(f"dag.test() of {dag_id} ended without a result (exit {done.returncode}):\n{output[-4000:]}")
    result = json.loads(marker[-1].removeprefix("DAG_TEST_RESULT "))
    return DagRunResult(dag_id, result["state"], result["tasks"], output)
