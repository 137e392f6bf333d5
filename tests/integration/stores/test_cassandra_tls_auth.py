"""Cassandra with client TLS and PasswordAuthenticator, as managed clusters run it (Azure Managed Instance: TLS +
password; GCE nodes: password): a Cassandra of its own (the default stack has neither), its certificate from the
stack's CA, an app role with a hostile password. The app's one driver set-up (stores/cassandra.py) reaches it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from integration.conftest import TEST_PORT_OFFSET, TEST_STACK_NAME, make_test_settings
from marketpulse.config import CassandraSettings, Settings
from marketpulse.stack.manager import Stack
from marketpulse.stack.services import CassandraService
from marketpulse.stores.cassandra import cassandra_cluster

pytestmark = pytest.mark.slow

PASSWORD = "c@ss 'and\" \\ ra:/pw"


@pytest.fixture(scope="module")
def secured() -> Iterator[Settings]:
    base = make_test_settings(f"{TEST_STACK_NAME}-cassandra-tls", TEST_PORT_OFFSET + 700)
    cassandra = CassandraSettings(
        **{
            **base.cassandra.model_dump(exclude={"password"}),
            "auth": "password",
            "username": "marketpulse_app",
            "password": SecretStr(PASSWORD),
            "ssl": True,
            "ssl_ca_location": base.stack.run_dir / "cassandra" / "tls" / "ca.pem",
            "write_consistency": "LOCAL_QUORUM",
        }
    )
    settings = base.model_copy(update={"cassandra": cassandra})
    stack = Stack(settings, services=[CassandraService(settings)])
    stack.up()  # keyspace, app role and tables made through TLS + auth
    yield settings
    stack.down()


def test_the_app_driver_writes_and_reads_over_tls_with_its_role(secured: Settings) -> None:
    cluster = cassandra_cluster(secured, writer=True)
    try:
        session = cluster.connect(secured.cassandra.keyspace)
        row = session.execute("SELECT role FROM system_auth.roles WHERE role = %s", ("marketpulse_app",)).one()
        assert row is not None
        session.execute("CREATE TABLE IF NOT EXISTS tls_probe (k text PRIMARY KEY, v int)")
        session.execute("INSERT INTO tls_probe (k, v) VALUES (%s, %s)", ("a", 1))
        assert session.execute("SELECT v FROM tls_probe WHERE k = 'a'").one().v == 1
        # The connection really is TLS: the control connection's socket is an SSLSocket.
        assert type(cluster.control_connection._connection._socket).__name__ == "SSLSocket"
    finally:
        cluster.shutdown()


def test_a_wrong_password_or_no_tls_is_refused(secured: Settings) -> None:
    from cassandra.cluster import NoHostAvailable

    wrong = secured.cassandra.model_copy(update={"password": SecretStr("wrong")})
    for bad in (wrong, secured.cassandra.model_copy(update={"ssl": False})):
        cluster = cassandra_cluster(secured.model_copy(update={"cassandra": bad}), timeout_s=5)
        try:
            with pytest.raises(NoHostAvailable):
                cluster.connect()
        finally:
            cluster.shutdown()
