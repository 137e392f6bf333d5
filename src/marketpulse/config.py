"""The one Settings object: built once at an entry point (CLI, service, DAG, test) and passed down.

Library code never reads the environment; only `Settings()` does, through pydantic-settings.
Nested fields use a double underscore: `MARKETPULSE_KAFKA__PORT=19092`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from marketpulse.errors import ConfigError
from marketpulse.sections.providers import ProviderSettings
from marketpulse.sections.text import SentimentSettings, SocialSettings

Environment = Literal["local", "test", "aws", "gcp", "azure"]
KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER", "AWS_MSK_IAM"]
CassandraConsistency = Literal["ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL"]

# Secrets that are fine on a laptop and never anywhere else.
#: Secrets that are fine on a laptop and never anywhere else: the local defaults and the well-known defaults of
#: the services behind them (compared lower-case, stripped).
_LOCAL_ONLY_SECRETS = {
    "",
    "marketpulse",
    "marketpulse-secret",
    "changeme",
    "change-me",
    "admin",
    "password",
    "secret",
    "airflow",
    "postgres",
    "minioadmin",
    "root",
    "test",
}
#: SecretStr fields that may stay empty anywhere: an empty dashboard key means "make a local one".
_OPTIONAL_EMPTY = {"dashboard.api_key"}


def _secrets(model: BaseModel, where: str = "") -> list[tuple[str, str]]:
    """(dotted name, value) of every SecretStr set in `model` and its sections (None: not configured, skipped)."""
    found = []
    for name, value in model:
        if isinstance(value, SecretStr) and f"{where}{name}" not in _OPTIONAL_EMPTY:
            found.append((f"{where}{name}", value.get_secret_value()))
        elif isinstance(value, BaseModel):
            found += _secrets(value, f"{where}{name}.")
    return found


class _Section(BaseModel):
    # hide_input_in_errors: a validation error names the field, never its value (a secret in a misspelled or
    # misplaced variable would otherwise be printed in the error).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, hide_input_in_errors=True)


class StackSettings(_Section):
    """Where the local stack installs its programs and keeps its data."""

    root: Path = Field(Path(".stack"), description="Folder for everything the stack installs and writes.")
    name: str = Field(
        "dev",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Instance name; data, logs and pids live under root/name, so stacks can run side by side.",
    )
    host: str = Field("127.0.0.1", description="Address every local service binds to.")
    startup_timeout_s: float = Field(240.0, gt=0, description="How long `stack up` waits for each service.")
    stop_timeout_s: float = Field(60.0, gt=0, description="Grace period after SIGTERM before SIGKILL.")

    @field_validator("root")
    @classmethod
    def _absolute(cls, root: Path) -> Path:
        # Generated configs and child processes must not depend on the current directory.
        return root.expanduser().resolve()

    @property
    def cache_dir(self) -> Path:
        """Installed programs and jars, shared by every instance under the same root."""
        return self.root / "cache"

    @property
    def run_dir(self) -> Path:
        """Data, logs, generated configs and pid files of this instance."""
        return self.root / self.name


class KafkaSettings(_Section):
    """Apache Kafka 4 (KRaft, one combined broker + controller)."""

    version: str = Field("4.1.1", description="Kafka version resolved from Maven Central.")
    port: int = Field(9092, ge=1, le=65535, description="Client (PLAINTEXT) listener port.")
    controller_port: int = Field(9093, ge=1, le=65535, description="KRaft controller listener port.")
    heap_mb: int = Field(
        256, ge=128, description="JVM heap of the broker, MiB (idle live set ~50 MiB with a 16 MiB cleaner buffer)."
    )
    bootstrap_servers: str | None = Field(None, description="Override for a remote cluster; default host:port.")
    default_partitions: int = Field(3, ge=1, description="Partitions of auto-created topics.")
    # How clients authenticate (librdkafka, Spark's Kafka source/sink, Airflow): kafka_config.py turns these into
    # each client's properties. Managed buses: MSK SCRAM-SHA-512 or AWS_MSK_IAM, GCP PLAIN or OAUTHBEARER,
    # Event Hubs PLAIN with username $ConnectionString (decision 0010).
    security_protocol: KafkaSecurityProtocol = Field("PLAINTEXT", description="Client security protocol.")
    sasl_mechanism: KafkaSaslMechanism | None = Field(
        None, description="SASL mechanism; required with SASL_SSL/SASL_PLAINTEXT, refused otherwise."
    )
    sasl_username: str | None = Field(
        None, description="SCRAM/PLAIN user; with OAUTHBEARER the OAuth client id. Unused by AWS_MSK_IAM."
    )
    sasl_password: SecretStr | None = Field(
        None, description="SCRAM/PLAIN password; with OAUTHBEARER the OAuth client secret."
    )
    ssl_ca_location: Path | None = Field(
        None, description="PEM file of the CA that signed the brokers' certificates; None: the system trust store."
    )
    oauth_token_endpoint_url: str | None = Field(
        None, description="OAUTHBEARER: the OIDC token endpoint (client-credentials grant)."
    )
    oauth_scope: str | None = Field(None, description="OAUTHBEARER: scope requested with the token, if any.")
    msk_iam_region: str | None = Field(None, description="AWS_MSK_IAM: region of the cluster; default s3.region.")
    sasl_ssl_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Local stack only: a second broker listener, SASL_SSL with SCRAM users, on this port (a "
        "self-signed CA under the broker's folder); off when None.",
    )

    @model_validator(mode="after")
    def _coherent_security(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"kafka.security_protocol={self.security_protocol} needs kafka.sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError(
                f"kafka.sasl_mechanism={self.sasl_mechanism} needs security_protocol SASL_SSL or SASL_PLAINTEXT"
            )
        needs_secret = self.sasl_mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER")
        if needs_secret and (not self.sasl_username or self.sasl_password is None):
            raise ValueError(f"kafka.sasl_mechanism={self.sasl_mechanism} needs sasl_username and sasl_password")
        if self.sasl_mechanism == "OAUTHBEARER" and not self.oauth_token_endpoint_url:
            raise ValueError("kafka.sasl_mechanism=OAUTHBEARER needs kafka.oauth_token_endpoint_url")
        if self.sasl_mechanism == "AWS_MSK_IAM" and self.security_protocol != "SASL_SSL":
            raise ValueError("kafka.sasl_mechanism=AWS_MSK_IAM needs security_protocol SASL_SSL")
        return self


class CassandraSettings(_Section):
    """Apache Cassandra 5 single node."""

    version: str = Field("5.0.8", description="cassandra-all version resolved from Maven Central.")
    port: int = Field(9042, ge=1, le=65535, description="CQL native transport port.")
    storage_port: int = Field(7000, ge=1, le=65535, description="Internode port (unused by one node, still bound).")
    jmx_port: int = Field(7199, ge=1, le=65535, description="Local JMX port (nodetool).")
    heap_mb: int = Field(512, ge=256, description="Max JVM heap, MiB; explicit because the default takes 1/4 of RAM.")
    hosts: list[str] | None = Field(None, description="Override contact points for a remote cluster.")
    keyspace: str = Field("marketpulse", description="Keyspace of the platform's tables.")
    # Client side (stores/cassandra.py cassandra_cluster): what a managed target needs. Amazon Keyspaces: port 9142,
    # ssl, auth sigv4, protocol 4, LOCAL_QUORUM; Azure Managed Instance: ssl + password; GCE VMs: password.
    auth: Literal["none", "password", "sigv4"] = Field(
        "none",
        description="none; password (PasswordAuthenticator: username/password); sigv4 (Amazon Keyspaces, "
        "the cassandra-sigv4 plugin with the default AWS credential chain: task/pod role).",
    )
    username: str | None = Field(None, description="Role for auth=password.")
    password: SecretStr | None = Field(None, description="Password for auth=password.")
    sigv4_region: str | None = Field(None, description="auth=sigv4: the Keyspaces region; default s3.region.")
    ssl: bool = Field(False, description="TLS to the native transport (client_encryption_options on the server).")
    ssl_ca_location: Path | None = Field(
        None, description="PEM CA bundle that signed the nodes' certificates; None: the system trust store."
    )
    ssl_check_hostname: bool = Field(
        True, description="Check that a node's certificate names the contact point (off for IP-only node certs)."
    )
    protocol_version: int = Field(5, ge=3, le=5, description="Native protocol; Keyspaces speaks 4.")
    local_dc: str | None = Field(
        None, description="Data centre the load balancer prefers (Keyspaces: the region); None: the first one seen."
    )
    write_consistency: CassandraConsistency = Field("LOCAL_ONE", description="Consistency of the stores' writes.")
    read_consistency: CassandraConsistency = Field("LOCAL_ONE", description="Consistency of reads.")

    @model_validator(mode="after")
    def _credentials_for_password(self) -> CassandraSettings:
        if self.auth == "password" and (not self.username or self.password is None):
            raise ValueError("cassandra.auth=password needs cassandra.username and cassandra.password")
        return self


class RedisSettings(_Section):
    """Redis (Debian package, run as a process of the stack)."""

    port: int = Field(6379, ge=1, le=65535)
    url: str | None = Field(None, description="Override, e.g. rediss://host:6380/0 for a managed cache.")
    password: SecretStr | None = Field(
        None, description="AUTH token/access key; kept out of the URL so any character works (URL's wins if both)."
    )
    username: str | None = Field(None, description="ACL user sent with the password (Redis 6+); None: default.")
    ssl_ca_location: Path | None = Field(
        None, description="PEM CA of the server's certificate (Memorystore's per-instance CA); None: system store."
    )
    tls_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Local stack only: also serve TLS on this port (self-signed CA); off when None.",
    )

    def client_url(self, default_host: str | None = None) -> str:
        """redis-py URL with AUTH and the CA in it, so every client built `from_url` (sync, asyncio) agrees.

        default_host: where a section without `url` points (the stack host). The password is percent-quoted
        (redis-py unquotes it), so spaces, '@', '/' and ':' arrive intact. A URL made here gives itself back.
        """
        if self.url is None and default_host is None:
            raise ConfigError("redis.url is not set and no default host was given")
        url = urlsplit(self.url or f"redis://{default_host}:{self.port}/0")
        netloc = url.netloc
        if self.password is not None and "@" not in netloc:
            user = quote(self.username or "", safe="")
            netloc = f"{user}:{quote(self.password.get_secret_value(), safe='')}@{netloc}"
        query = url.query
        if self.ssl_ca_location is not None and "ssl_ca_certs=" not in query:
            query = "&".join(filter(None, [query, urlencode({"ssl_ca_certs": str(self.ssl_ca_location)})]))
        return urlunsplit((url.scheme, netloc, url.path, query, url.fragment))


class PostgresSettings(_Section):
    """PostgreSQL (Debian package, run as a process of the stack)."""

    port: int = Field(5432, ge=1, le=65535)
    user: str = Field("marketpulse")
    password: SecretStr = Field(SecretStr("marketpulse"))
    database: str = Field("marketpulse")
    host: str | None = Field(None, description="Override for a remote server; default the stack host.")

    def dsn(self, database: str | None = None, *, default_host: str | None = None) -> str:
        """libpq connection string (password included: never log it); default_host: where a section without
        `host` points (the stack host).

        psycopg's make_conninfo quotes each value, so a password with spaces, quotes or backslashes arrives intact.
        """
        from psycopg.conninfo import make_conninfo

        host = self.host or default_host
        if host is None:
            raise ConfigError("postgres.host is not set and no default host was given")
        return make_conninfo(
            host=host,
            port=self.port,
            user=self.user,
            password=self.password.get_secret_value(),
            dbname=database or self.database,
            connect_timeout=3,
        )


class S3Settings(_Section):
    """S3-compatible object storage (SeaweedFS locally, S3 or another S3 API in clouds)."""

    port: int = Field(9000, ge=1, le=65535, description="S3 API port.")
    internal_port: int = Field(
        9330,
        ge=1,
        le=65535 - 8,
        description="First of the 9 consecutive ports the local SeaweedFS uses besides the S3 API "
        "(master, volume, filer, S3 and admin servers: HTTP and gRPC), bound to the stack host only.",
    )
    endpoint_url: str | None = Field(None, description="Override; default http://host:port. Empty for AWS.")
    access_key: str | None = Field(
        "marketpulse", description="Static key id; None (env: empty) uses the default credential chain."
    )
    secret_key: SecretStr | None = Field(
        SecretStr("marketpulse-secret"),
        description="Static secret; None uses boto3's/s3fs's default chain (task role, pod identity, instance).",
    )
    region: str = Field("us-east-1")
    backend: Literal["s3", "adls"] = Field(
        "s3", description="s3: any S3 API (AWS, SeaweedFS, GCS XML API); adls: Azure Data Lake Gen2 through adlfs."
    )
    checksum_when_required: bool = Field(
        False,
        description="Send request checksums only when an operation requires them (GCS's S3 API rejects boto3's "
        "default CRC32 headers).",
    )
    adls_account: str | None = Field(None, description="backend=adls: the storage account name.")

    @field_validator("access_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _keys_in_pairs(self) -> S3Settings:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError(
                "s3.access_key and s3.secret_key are set together, or both left empty for role credentials"
            )
        if self.backend == "adls" and not self.adls_account:
            raise ValueError("s3.backend=adls needs s3.adls_account")
        return self

    @property
    def static_keys(self) -> tuple[str, str] | None:
        """(key id, secret) when static keys are configured; None means the default credential chain."""
        if self.access_key is None or self.secret_key is None:
            return None
        return self.access_key, self.secret_key.get_secret_value()

    def local_keys(self) -> tuple[str, str]:
        """The static keys a local S3 server (SeaweedFS) is started with; it has no credential chain."""
        if self.static_keys is None:
            raise ConfigError(
                "the local S3 server needs s3.access_key and s3.secret_key (a credential chain is cloud-only)"
            )
        return self.static_keys

    bucket_prefix: str = Field("marketpulse", description="Buckets are <prefix>-raw, -features, -models, ...")

    @property
    def buckets(self) -> dict[str, str]:
        """Logical name -> bucket name for each area of the lake."""
        areas = ("raw", "features", "models", "checkpoints")
        return {area: f"{self.bucket_prefix}-{area}" for area in areas}


class SparkSettings(_Section):
    """Spark in local mode and its Kafka connector."""

    version: str = Field(
        "4.1.3",
        description="Must equal the pyspark pin and spark/pom.xml; 4.1.3 fixes the Kafka source NPE after a restart "
        "(SPARK-55271).",
    )
    master: str = Field("local[2]", description="Spark master; local[N] uses N cores.")
    driver_memory: str = Field(
        "512m",
        description="spark.driver.memory, the heap of a job's JVM (local mode: driver and executor in one); "
        "the jobs keep their state in Python, the JVM's live heap is ~0.1 GiB under `make run`; Spark refuses "
        "less than ~0.45 GiB.",
    )
    shuffle_partitions: int = Field(4, ge=1, description="spark.sql.shuffle.partitions; small for 2 cores.")
    # A cluster master (spark://, k8s://): executors on other hosts must reach the driver and import the project.
    driver_host: str = Field(
        "127.0.0.1",
        description="spark.driver.host: the address executors call the driver at (a pod IP or a host name the "
        "workers resolve; loopback suits local mode and a cluster on this machine only).",
    )
    driver_bind_address: str | None = Field(
        None, description="spark.driver.bindAddress (e.g. 0.0.0.0 in a pod); default driver_host."
    )
    executor_memory: str = Field("512m", description="spark.executor.memory on a cluster master.")
    executor_python: str | None = Field(
        None,
        description="Interpreter of the executors' Python workers (spark.pyspark.python): the image's or an "
        "unpacked --archives environment's; default the driver's own interpreter.",
    )
    ship_project: bool = Field(
        True,
        description="On a cluster master, ship the marketpulse package to the executors (a zip through "
        "SparkContext.addPyFile, as --py-files does), so they import the driver's code, not whatever is installed.",
    )


class StreamSettings(_Section):
    """The Spark Structured Streaming jobs: triggers, limits and where their checkpoints live."""

    checkpoint_root: str | None = Field(
        None,
        description="URI of the checkpoint folder (one sub-folder per query); default <stack run dir>/checkpoints.",
    )
    trigger_interval: str = Field(
        "0 seconds",
        description="Micro-batch trigger of the market job's live query; '0 seconds' starts the next batch as soon "
        "as the last one ended and new ticks are there (the lowest latency).",
    )
    archive_interval_s: float = Field(
        5.0,
        gt=0,
        description="How often the market job writes its spooled batches to Cassandra, PostgreSQL and the lake "
        "(seconds): fewer, larger writes and lake files, off the live path.",
    )
    max_offsets_per_trigger: int = Field(200_000, ge=1, description="Cap on ticks per micro-batch.")
    watermark: str = Field("30 seconds", description="How late an event may arrive (event time) before it is dropped.")
    starting_offsets: Literal["earliest", "latest"] = Field("earliest", description="Where a new query starts.")
    redis_ttl_s: int = Field(86_400, ge=60, description="TTL of per-symbol latest-state keys in Redis.")
    metrics_port: int = Field(9109, ge=1, le=65535, description="Port of the market job's Prometheus /metrics.")
    max_restarts: int = Field(3, ge=0, description="In-process restarts from the checkpoints after a query fails.")
    keep_driver: bool = Field(
        True,
        description="Run each stream job under its keeper, which starts a dead driver (kill -9, OOM, crash) again at "
        "once; off: only the stream supervisor, at its next run, restarts it.",
    )


class IngestSettings(_Section):
    """The ingest service."""

    metrics_port: int = Field(9108, ge=1, le=65535, description="Port of the ingest service's /metrics.")


class ApiSettings(_Section):
    """The FastAPI service: REST, WebSocket, API keys, rate limits, CORS; and the alert engine's own service."""

    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64, description="uvicorn worker processes sharing api.port (stateless).")
    fast_latest: bool = Field(
        True, description="Serve GET /v1/symbols/{symbol}/latest by the plain-ASGI lane (off: through FastAPI)."
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8050", "http://localhost:8050"],
        description="Origins browsers may call the API from (the Dash dashboard by default); ['*'] allows any.",
    )
    rate_limit_per_s: float = Field(
        200.0, gt=0, description="Default sustained requests/s per API key (a key may carry its own)."
    )
    rate_limit_burst: int = Field(400, ge=1, description="Requests a key may send at once before being limited.")
    key_cache_ttl_s: float = Field(
        5.0, ge=0, description="How long a verified key is trusted without asking Postgres (revocation delay)."
    )
    ws_queue_size: int = Field(
        256, ge=1, description="Messages queued per WebSocket client; a client that lets it fill is dropped."
    )
    ws_heartbeat_s: float = Field(15.0, gt=0, description="Seconds between heartbeat messages on idle WebSockets.")
    ws_max_message_bytes: int = Field(
        65_536, ge=1024, description="Largest WebSocket message a client may send; larger ones close the socket (1009)."
    )
    alerts_metrics_port: int = Field(9112, ge=1, le=65535, description="Port of the alert engine's /metrics.")
    access_log: bool = Field(True, description="Log one line per request (keys redacted); off for load tests.")
    webhook_attempts: int = Field(4, ge=1, description="Tries per alert webhook (exponential backoff between).")
    webhook_backoff_s: float = Field(0.5, gt=0, description="Wait before the second webhook try; doubles after.")
    webhook_timeout_s: float = Field(5.0, gt=0, description="Timeout of one webhook request.")
    webhook_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Webhook targets allowed although private, loopback or link-local (host names, IPs, CIDRs); "
        "any other such target is refused (SSRF).",
    )
    max_body_bytes: int = Field(65_536, ge=1024, description="Largest request body the API reads (413 beyond).")
    ws_max_subscriptions: int = Field(
        1000, ge=1, description="(symbol, channel) subscriptions one WebSocket connection may hold."
    )


class DashboardSettings(_Section):
    """The Dash dashboard: it reads everything through the API with its own key."""

    port: int = Field(8050, ge=1, le=65535)
    api_url: str | None = Field(None, description="API base URL; default http://<stack host>:<api.port>.")
    api_key: SecretStr = Field(SecretStr(""), description="Read key the dashboard sends (marketpulse apikeys create).")
    refresh_s: float = Field(2.0, gt=0, description="Seconds between refreshes of what needs history (charts).")
    stale_s: float = Field(10.0, gt=0, description="Seconds without a pushed update before the page says stale.")


class ModelSettings(_Section):
    """Price models: training data, walk-forward evaluation, promotion, serving and the live scorecard."""

    price_name: str = Field("price", description="Registry name of the market price model the stream serves.")
    ensemble_name: str = Field("ensemble", description="Registry name of the market + sentiment ensemble.")
    symbols: list[str] = Field(["AAPL", "IBM", "MSFT", "GOOG", "FB"], description="Symbols retraining uses.")
    horizons: list[str] = Field(["1min", "5min", "1d"], description="Label horizons: <n>min, <n>h or <n>d.")
    primary_horizon: str = Field("1min", description="Horizon whose held-out log-loss decides promotion.")
    data_source: Literal["auto", "lake", "replay"] = Field(
        "auto", description="Training bars: the raw lake, the replay history, or auto (lake if it holds enough)."
    )
    train_sessions: int = Field(60, ge=5, description="Trading sessions of history a retrain uses (newest last).")
    replay_end: str = Field("2012-12-31", description="Last day of replay history used when the lake is too thin.")
    ticks_per_day: int = Field(2000, ge=4, description="Replay ticks per symbol and day (as the replay stream).")
    folds: int = Field(3, ge=1, description="Walk-forward folds (rolling test blocks at the end of the range).")
    test_sessions: int = Field(5, ge=1, description="Sessions per walk-forward test block.")
    epochs: int = Field(4, ge=1, description="Training epochs of the sequence model.")
    seed: int = Field(7, description="Seed for replay and training: same seed, same model.")
    cost_bps: float = Field(1.0, ge=0, description="Backtest cost per position change, basis points.")
    reload_s: float = Field(30.0, gt=0, description="How often the stream re-reads the production pointers.")


class AirflowSettings(_Section):
    """Airflow 3 of the local stack (its own venv; metadata in the stack's PostgreSQL) and its DAGs' knobs."""

    version: str = Field("3.3.2", description="apache-airflow version; the pinned set is orchestration/resources.")
    port: int = Field(8080, ge=1, le=65535, description="Port of the Airflow API server (UI and REST API).")
    admin_user: str = Field("admin", description="Login of the Airflow UI (simple auth manager, admin role).")
    admin_password: SecretStr = Field(SecretStr("marketpulse"), description="Password of admin_user.")
    database: str = Field("airflow", description="PostgreSQL database holding Airflow's metadata.")
    dags_folder: Path = Field(Path("airflow/dags"), description="Folder of the DAG files.")
    parallelism: int = Field(2, ge=1, description="Task instances running at once (LocalExecutor workers).")
    start_paused: bool = Field(
        False, description="Create every DAG paused (test stacks); otherwise the operational ones start unpaused."
    )
    stuck_after_s: float = Field(
        180.0, gt=0, description="A stream whose last micro-batch is older than this while Kafka holds input is stuck."
    )
    restart_timeout_s: float = Field(240.0, gt=0, description="How long a restart waits for the first new batch.")

    @field_validator("dags_folder")
    @classmethod
    def _absolute_dags(cls, folder: Path) -> Path:
        return folder.expanduser().resolve()


class QualitySettings(_Section):
    """Data-quality thresholds (marketpulse.quality, the data_quality DAG)."""

    window_hours: float = Field(24.0, gt=0, description="Event-time window checked when none is given.")
    max_gap_minutes: float = Field(15.0, gt=0, description="Largest gap between 1-min bars of one session.")
    outlier_sigmas: float = Field(8.0, gt=0, description="A 1-min log return beyond this many sigmas is an outlier.")
    max_lag_minutes: float = Field(
        60.0, gt=0, description="Freshness: largest event-time lag of a symbol behind the newest bar of any symbol."
    )
    max_dlq_rate: float = Field(0.05, ge=0, le=1, description="Largest share of rejected ticks per interval.")


class ReportingSettings(_Section):
    """The Power BI reporting schema in PostgreSQL (marketpulse.stores.reporting, the bi_export DAG)."""

    retention_days: int = Field(3650, ge=1, description="Facts older than this (behind the newest bar) are deleted.")
    rollup_lookback_days: int = Field(3, ge=1, description="Days of daily rollups recomputed by each export.")
    dictionary_dir: Path | None = Field(
        None, description="Where the data dictionary goes; default <run dir>/reporting."
    )


class Settings(BaseSettings):
    """Everything configurable about MarketPulse, one instance per process."""

    model_config = SettingsConfigDict(
        env_prefix="MARKETPULSE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )

    environment: Environment = Field("local", description="Where this runs; non-local refuses default secrets.")
    stack: StackSettings = StackSettings()
    kafka: KafkaSettings = KafkaSettings()
    cassandra: CassandraSettings = CassandraSettings()
    redis: RedisSettings = RedisSettings()
    postgres: PostgresSettings = PostgresSettings()
    s3: S3Settings = S3Settings()
    spark: SparkSettings = SparkSettings()
    stream: StreamSettings = StreamSettings()
    ingest: IngestSettings = IngestSettings()
    providers: ProviderSettings = ProviderSettings()
    social: SocialSettings = SocialSettings()
    sentiment: SentimentSettings = SentimentSettings()
    api: ApiSettings = ApiSettings()
    dashboard: DashboardSettings = DashboardSettings()
    models: ModelSettings = ModelSettings()
    airflow: AirflowSettings = AirflowSettings()
    quality: QualitySettings = QualitySettings()
    reporting: ReportingSettings = ReportingSettings()

    @model_validator(mode="after")
    def _no_default_secrets_outside_local(self) -> Settings:
        if self.environment in ("local", "test"):
            return self
        weak = [name for name, value in _secrets(self) if value.strip().lower() in _LOCAL_ONLY_SECRETS]
        if weak:
            raise ValueError(
                f"environment={self.environment} but {', '.join(weak)} still hold the local default "
                "or a well-known password; set them through MARKETPULSE_* variables or a secret store"
            )
        return self

    # Derived connection strings: one place, so every client agrees.
    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap_servers or f"{self.stack.host}:{self.kafka.port}"

    @property
    def cassandra_hosts(self) -> list[str]:
        return self.cassandra.hosts or [self.stack.host]

    @property
    def redis_url(self) -> str:
        """redis-py URL with AUTH and the CA in it (RedisSettings.client_url), by default on the stack host."""
        return self.redis.client_url(default_host=self.stack.host)

    @property
    def postgres_host(self) -> str:
        return self.postgres.host or self.stack.host

    def postgres_dsn(self, database: str | None = None) -> str:
        """libpq connection string (password included: never log it), by default on the stack host."""
        return self.postgres.dsn(database, default_host=self.stack.host)

    @property
    def api_base_url(self) -> str:
        return self.dashboard.api_url or f"http://{self.stack.host}:{self.api.port}"

    def checkpoint_location(self, query: str) -> str:
        """Checkpoint folder of one streaming query (each query owns exactly one)."""
        root = self.stream.checkpoint_root or str(self.stack.run_dir / "checkpoints")
        return f"{root.rstrip('/')}/{query}"

    @property
    def s3_endpoint(self) -> str:
        return (
            self.s3.endpoint_url if self.s3.endpoint_url is not None else (f"http://{self.stack.host}:{self.s3.port}")
        )


def settings_env(settings: Settings) -> dict[str, str]:
    """MARKETPULSE_* variables that rebuild `settings` exactly in a child process (secrets included)."""
    env: dict[str, str] = {"MARKETPULSE_ENVIRONMENT": settings.environment}
    for section_name in type(settings).model_fields:
        section = getattr(settings, section_name)
        if not isinstance(section, BaseModel):
            continue
        for field_name in type(section).model_fields:
            value = getattr(section, field_name)
            if value is None:
                continue
            key = f"MARKETPULSE_{section_name.upper()}__{field_name.upper()}"
            if isinstance(value, SecretStr):
                env[key] = value.get_secret_value()
            elif isinstance(value, str | Path):
                env[key] = str(value)
            else:
                env[key] = json.dumps(section.model_dump(mode="json", include={field_name})[field_name])
    return env
