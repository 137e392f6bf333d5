"""A local certificate authority for the stack's TLS listeners (Kafka SASL_SSL, Redis TLS): made once, kept.

Clients trust `ca.pem` the way they trust a managed service's CA (Memorystore's per-instance CA, a private MSK CA),
so the same settings (`ssl_ca_location`) are exercised locally.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCert:
    """PEM files of one server's certificate: the CA clients trust, the server's chain and its unencrypted key."""

    ca: Path
    cert: Path
    key: Path

    @property
    def key_and_cert(self) -> Path:
        """Key then certificate in one file (Kafka's PEM keystore file format)."""
        return self.cert.with_name("server-keystore.pem")


def server_cert(folder: Path, host: str) -> ServerCert:
    """The CA and a server certificate for `host` (IP or name) under `folder`, made on first call."""
    files = ServerCert(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "server-key.pem")
    if files.ca.exists() and files.cert.exists() and files.key.exists() and files.key_and_cert.exists():
        return files
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MarketPulse local stack CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        names = [x509.DNSName(host)]
    if host != "localhost":
        names.append(x509.DNSName("localhost"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # PKCS#8, unencrypted: what Kafka's PEM keystore, Redis and Cassandra's PEM factory all read.
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key_pem)
    files.key.chmod(0o600)
    files.cert.write_bytes(cert_pem)
    files.key_and_cert.write_bytes(key_pem + cert_pem)
    files.key_and_cert.chmod(0o600)
    return files
