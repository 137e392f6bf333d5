"""Cassandra: the one way to build a driver Cluster, so every caller gets the same policies."""

from __future__ import annotations

import ssl
from typing import Any

from cassandra import ConsistencyLevel, InvalidRequest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

from marketpulse.config import CassandraSettings, Settings
from marketpulse.contracts.columns import INDICATOR_COLUMNS
from marketpulse.errors import ConfigError


def cassandra_section(settings: Settings) -> CassandraSettings:
    """settings.cassandra with what it takes from other sections filled in (the contact points default to the stack
    host, the sigv4 region to s3.region): a section that connects by itself, what writers and sinks are given."""
    c = settings.cassandra
    return c.model_copy(
        update={"hosts": settings.cassandra_hosts, "sigv4_region": c.sigv4_region or settings.s3.region}
    )


def cassandra_cluster(settings: Settings, *, timeout_s: float = 10.0, writer: bool = False) -> Any:
    """A cassandra-driver Cluster for the configured contact points (call .connect(), then .shutdown()).

    TLS, authentication, protocol version and consistency come from `cassandra` settings (see cluster_options);
    a writer's sessions run at cassandra.write_consistency, every other at cassandra.read_consistency.
    """
    return section_cluster(cassandra_section(settings), timeout_s=timeout_s, writer=writer)


def section_cluster(c: CassandraSettings, *, timeout_s: float = 10.0, writer: bool = False) -> Any:
    """cassandra_cluster for a section from `cassandra_section` (its contact points set)."""
    if not c.hosts:
        raise ConfigError("cassandra.hosts is not set: build the section with cassandra_section(settings)")
    return Cluster(c.hosts, **section_options(c, timeout_s=timeout_s, writer=writer))


def cluster_options(settings: Settings, *, timeout_s: float = 10.0, writer: bool = False) -> dict[str, Any]:
    """Keyword arguments of cassandra.cluster.Cluster (contact points aside); public so the mapping is testable."""
    return section_options(cassandra_section(settings), timeout_s=timeout_s, writer=writer)


def section_options(c: CassandraSettings, *, timeout_s: float = 10.0, writer: bool = False) -> dict[str, Any]:
    """cluster_options for a section from `cassandra_section`."""
    profile = ExecutionProfile(
        # Token-aware routing sends each write to the replica that owns its (symbol, day) partition.
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=c.local_dc)),
        request_timeout=timeout_s,
        consistency_level=consistency(c.write_consistency if writer else c.read_consistency),
    )
    options: dict[str, Any] = {
        "port": c.port,
        "execution_profiles": {EXEC_PROFILE_DEFAULT: profile},
        "protocol_version": c.protocol_version,
        "connect_timeout": timeout_s,
        "control_connection_timeout": timeout_s,
    }
    if c.ssl:
        options["ssl_context"] = _ssl_context(c)
    if c.auth == "password":
        assert c.password is not None  # CassandraSettings' validator
        options["auth_provider"] = PlainTextAuthProvider(username=c.username, password=c.password.get_secret_value())
    elif c.auth == "sigv4":
        if not c.sigv4_region:
            raise ConfigError("cassandra.sigv4_region is not set: build the section with cassandra_section(settings)")
        options["auth_provider"] = _sigv4_provider(c.sigv4_region)
    return options


def consistency(name: str) -> int:
    """The driver's ConsistencyLevel for a settings name (LOCAL_QUORUM, ...)."""
    return int(ConsistencyLevel.name_to_value[name])


def _ssl_context(c: CassandraSettings) -> Any:
    context = ssl.create_default_context(cafile=str(c.ssl_ca_location) if c.ssl_ca_location else None)
    # The driver passes each contact point as server_hostname when check_hostname is on.
    context.check_hostname = c.ssl_check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _sigv4_provider(region: str) -> Any:
    try:
        from cassandra_sigv4.auth import SigV4AuthProvider
    except ImportError as exc:
        raise ConfigError("cassandra.auth=sigv4 needs cassandra-sigv4: pip install 'marketpulse[cloud]'") from exc
    import boto3

    # The default credential chain (task role, pod identity); the plugin signs each connection's challenge.
    return SigV4AuthProvider(boto3.Session(region_name=region))


#: The indicator columns, in the one order `marketpulse.features` defines them.
INDICATOR_CQL_COLUMNS = tuple(INDICATOR_COLUMNS)

# Time series partitioned by (symbol, day) so a partition stays bounded, newest first for "latest N" reads.
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS bars (
        symbol text, interval text, day date, ts timestamp,
        open double, high double, low double, close double, volume double, vwap double, trades bigint,
        PRIMARY KEY ((symbol, interval, day), ts)) WITH CLUSTERING ORDER BY (ts DESC)""",
    f"""CREATE TABLE IF NOT EXISTS indicators (
        symbol text, interval text, day date, ts timestamp, close double,
        {", ".join(f"{name} double" for name in INDICATOR_CQL_COLUMNS)},
        PRIMARY KEY ((symbol, interval, day), ts)) WITH CLUSTERING ORDER BY (ts DESC)""",
    """CREATE TABLE IF NOT EXISTS predictions (
        symbol text, day date, feature_ts timestamp, horizon text, model_name text, model_version text,
        prob_up double, expected_return double, created_at timestamp,
        PRIMARY KEY ((symbol, day), feature_ts, horizon, model_name)) WITH CLUSTERING ORDER BY (feature_ts DESC)""",
    # Sentiment: per-(text, symbol) scores by the day the text became known, and per-symbol windows.
    """CREATE TABLE IF NOT EXISTS sentiment_items (
        symbol text, day date, known_at timestamp, item_id text, source text, author text, url text, text text,
        published_at timestamp, ingested_at timestamp, p_bearish double, p_neutral double, p_bullish double,
        polarity double, model_version text, replayed boolean,
        PRIMARY KEY ((symbol, day), known_at, item_id)) WITH CLUSTERING ORDER BY (known_at DESC, item_id ASC)""",
    """CREATE TABLE IF NOT EXISTS sentiment_windows (
        symbol text, day date, window_end timestamp, window_start timestamp, count int, mean double,
        dispersion double, buzz double, mean_x double, count_x int, mean_reddit double, count_reddit int,
        mean_news double, count_news int, last_published_at timestamp, last_ingested_at timestamp,
        model_version text, updated_at timestamp,
        PRIMARY KEY ((symbol, day), window_end)) WITH CLUSTERING ORDER BY (window_end DESC)""",
]

#: Columns added to existing tables after their first release: (table, column, CQL type).
ADDED_COLUMNS = [
    ("predictions", "sentiment_window_end", "timestamp"),
    ("predictions", "sentiment_model_version", "text"),
]


def migrate(session: Any, keyspace: str) -> None:
    """Create the keyspace's tables if missing and add newer columns (idempotent; schema changes are additive)."""
    session.set_keyspace(keyspace)
    for statement in SCHEMA:
        session.execute(statement, timeout=60)
    existing = {
        (row.table_name, row.column_name)
        for row in session.execute(
            "SELECT table_name, column_name FROM system_schema.columns WHERE keyspace_name = %s", (keyspace,)
        )
    }
    for table, column, kind in ADDED_COLUMNS:
        if (table, column) not in existing:
            # A dev stack made before the column existed; two writers racing here both succeed or one sees "exists".
            try:
                session.execute(f"ALTER TABLE {table} ADD {column} {kind}", timeout=60)
            except InvalidRequest as exc:
                if "already exist" not in str(exc):
                    raise


class CassandraWriter:
    """Idempotent writes: Cassandra inserts are upserts keyed by the primary key, so replays overwrite."""

    def __init__(self, cassandra: CassandraSettings) -> None:
        """cassandra: a section from `cassandra_section` (contact points and region filled in)."""
        # Its statements (the stores' inserts and the few reads they need) run at the write consistency.
        self._cluster = section_cluster(cassandra, writer=True)
        self.session: Session = self._cluster.connect()
        migrate(self.session, cassandra.keyspace)
        bar_columns = "symbol, interval, day, ts, open, high, low, close, volume, vwap, trades"
        self._insert_bar = self.session.prepare(f"INSERT INTO bars ({bar_columns}) VALUES ({', '.join('?' * 11)})")
        indicator_columns = ["symbol", "interval", "day", "ts", "close", *INDICATOR_CQL_COLUMNS]
        placeholders = ", ".join("?" * len(indicator_columns))
        self._insert_indicators = self.session.prepare(
            f"INSERT INTO indicators ({', '.join(indicator_columns)}) VALUES ({placeholders})"
        )

        self._insert_prediction = self.session.prepare(
            "INSERT INTO predictions (symbol, day, feature_ts, horizon, model_name, model_version, prob_up, "
            "expected_return, sentiment_window_end, sentiment_model_version, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, toTimestamp(now()))"
        )

    def _write(self, statement: Any, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        results = execute_concurrent_with_args(self.session, statement, rows, concurrency=64, raise_on_first_error=True)
        assert all(ok for ok, _ in results)

    def write_bars(self, bars: Any, interval: str) -> None:
        """bars: a pandas frame with symbol, ts (UTC) and OHLCV columns."""
        rows = [
            (
                r.symbol,
                interval,
                r.ts.date(),
                r.ts.to_pydatetime(),
                r.open,
                r.high,
                r.low,
                r.close,
                r.volume,
                r.vwap,
                int(r.trades),
            )
            for r in bars.itertuples(index=False)
        ]
        self._write(self._insert_bar, rows)

    def write_indicators(self, frame: Any, interval: str) -> None:
        """frame: symbol, ts, close and INDICATOR_CQL_COLUMNS (NaN during warm-up is stored as null)."""
        rows = []
        for r in frame.itertuples(index=False):
            values = [None if v != v else float(v) for v in (getattr(r, name) for name in INDICATOR_CQL_COLUMNS)]
            rows.append((r.symbol, interval, r.ts.date(), r.ts.to_pydatetime(), float(r.close), *values))
        self._write(self._insert_indicators, rows)

    def write_predictions(self, frame: Any) -> None:
        """frame: symbol, feature_ts (UTC), horizon, model_name, model_version, prob_up, expected_return."""
        rows = [
            (r.symbol, r.feature_ts.date(), *prediction_head(r), float(r.expected_return), *sentiment_used(r))
            for r in frame.itertuples(index=False)
        ]
        self._write(self._insert_prediction, rows)

    def close(self) -> None:
        self._cluster.shutdown()


def prediction_head(row: Any) -> tuple[Any, str, str, Any, float]:
    """(feature_ts as a datetime, horizon, model_name, model_version, prob_up) of a prediction row: what every store
    of predictions (and of their scored outcomes) writes after the symbol and its partition columns."""
    return row.feature_ts.to_pydatetime(), row.horizon, row.model_name, row.model_version, float(row.prob_up)


def sentiment_used(row: Any) -> tuple[Any, str | None]:
    """(sentiment_window_end as a datetime or None, sentiment_model_version or None) of a prediction row."""
    end = getattr(row, "sentiment_window_end", None)
    version = getattr(row, "sentiment_model_version", None)
    if end is None or end != end:  # missing, NaT or NaN (NaT compares unequal to itself)
        end = None
    elif hasattr(end, "to_pydatetime"):
        end = end.to_pydatetime()
    return end, version if isinstance(version, str) else None
