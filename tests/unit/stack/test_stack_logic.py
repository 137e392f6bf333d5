"""The stack's own logic, without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketpulse.config import CassandraSettings, KafkaSettings, Settings, StackSettings
from marketpulse.errors import InstallError, StackError
from marketpulse.stack import install
from marketpulse.stack.manager import Stack
from marketpulse.stack.services import CassandraService, KafkaService, PostgresService


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(stack=StackSettings(root=tmp_path, name="unit"), **overrides)  # type: ignore[arg-type]


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(install.shutil, "which", lambda _name: None)
    with pytest.raises(InstallError, match=r"need Java 17 or newer.*apt-get install openjdk-17-jre-headless"):
        install.find_java()


def test_unknown_service_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="unknown service kafak; known: kafka, cassandra, redis"):
        Stack(_settings(tmp_path)).select(["kafak"])


def test_kafka_config_uses_the_settings_ports(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka=KafkaSettings(port=29092, controller_port=29093))
    service = KafkaService(settings)
    (service.home / "data").mkdir(parents=True)
    (service.home / "data" / "meta.properties").write_text("formatted")  # skip StorageTool
    service.prepare()
    props = (service.home / "server.properties").read_text()
    assert "listeners=PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093" in props
    assert "controller.quorum.voters=1@127.0.0.1:29093" in props
    assert f"log.dirs={service.home / 'data'}" in props
    assert service.command()[-2:] == ["kafka.Kafka", str(service.home / "server.properties")]


def test_cassandra_config_and_command_use_every_port(tmp_path: Path) -> None:
    settings = _settings(tmp_path, cassandra=CassandraSettings(port=29042, storage_port=27000, jmx_port=27199))
    service = CassandraService(settings)
    service.jars.mkdir(parents=True)
    (service.jars / "jamm-0.4.0.jar").write_bytes(b"")
    service.prepare()
    yaml = (service.home / "cassandra.yaml").read_text()
    command = " ".join(service.command())
    assert "native_transport_port: 29042" in yaml
    assert "storage_port: 27000" in yaml
    assert f"{service.home / 'data'}/commitlog" in yaml
    assert "27199" in command
    assert f"-javaagent:{service.jars / 'jamm-0.4.0.jar'}" in command
    assert "-Xmx512m" in command
    assert "${" not in yaml + command


def test_cassandra_without_jamm_asks_for_install(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="stack install"):
        CassandraService(_settings(tmp_path)).prepare()


def test_postgres_listens_on_tcp_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "find_postgres_bindir", lambda: Path("/opt/pg/bin"))
    command = PostgresService(_settings(tmp_path)).command()
    assert command[0] == "/opt/pg/bin/postgres"
    assert "unix_socket_directories=" in command
    assert "listen_addresses=127.0.0.1" in command


def test_maven_resolution_is_skipped_when_the_pom_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    calls: list[list[str]] = []

    def fake_mvn(argv: list[str], **_: object) -> str:
        calls.append(argv)
        out = next(a for a in argv if a.startswith("-DoutputDirectory=")).split("=", 1)[1]
        Path(out).mkdir(parents=True)
        (Path(out) / "a.jar").write_bytes(b"jar")
        return ""

    monkeypatch.setattr(install, "run_checked", fake_mvn)
    monkeypatch.setattr(install.shutil, "which", lambda name: f"/usr/bin/{name}")
    dest = tmp_path / "jars"
    install.maven_jars(pom, dest, lambda _m: None)
    install.maven_jars(pom, dest, lambda _m: None)
    assert len(calls) == 1
    assert (dest / "a.jar").exists()
    pom.write_text("<project><!-- changed --></project>")
    install.maven_jars(pom, dest, lambda _m: None)
    assert len(calls) == 2


class _FakeRedis:
    """Just enough of a Redis client for resume_day's reads (the real Redis is covered in integration tests)."""

    def __init__(self, latest: dict[str, str | None]) -> None:
        self.latest = latest

    def smembers(self, _key: str) -> set[str]:
        return set(self.latest)

    def hget(self, key: str, _field: str) -> str | None:
        return self.latest[key.rsplit(":", 1)[1]]

    def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("latest", "expected"),
    [
        ({}, "2013-01-02"),  # nothing streamed yet: from the start
        ({"AAPL": "2013-01-09T20:59:00+00:00", "IBM": "2013-01-08T15:00:00+00:00", "FB": None}, "2013-01-10"),
        ({"AAPL": "2013-03-01T20:59:00+00:00"}, "2013-01-02"),  # history exhausted: start over
    ],
)
def test_replay_resumes_after_the_newest_streamed_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, latest: dict[str, str | None], expected: str
) -> None:
    from marketpulse.platform import apps
    from marketpulse.platform.apps import ReplayIngestApp

    monkeypatch.setattr(apps, "redis_client", lambda _settings: _FakeRedis(latest))
    app = ReplayIngestApp(_settings(tmp_path))
    assert str(app.resume_day()) == expected
    assert app.command()[-2:] == ["--start", expected]
