"""Kafka client properties from Settings: the one place security settings become each client's dialect.

Three clients read the same `KafkaSettings`: librdkafka (confluent-kafka producers, consumers, admin clients and
Airflow's Kafka provider), and the Java client inside Spark's Kafka source and sink (`kafka.`-prefixed options).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marketpulse.config import KafkaSettings, Settings
from marketpulse.errors import ConfigError

#: Java login modules of the mechanisms that carry a user and a password.
_JAVA_LOGIN_MODULES = {
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}


def client_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """librdkafka properties for a producer, consumer or admin client: bootstrap, security, then `extra`.

    With AWS_MSK_IAM the result holds `oauth_cb` (a callable signing a token with the default AWS credential
    chain), so it is not JSON: use `librdkafka_security` for a stored connection.
    """
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap, **librdkafka_security(settings)}
    if settings.kafka.sasl_mechanism == "AWS_MSK_IAM":
        config["oauth_cb"] = msk_iam_token_callback(settings.kafka.msk_iam_region or settings.s3.region)
    config.update(extra)
    return config


def librdkafka_security(settings: Settings) -> dict[str, str]:
    """The security properties alone, JSON-safe (Airflow's connection extra; secrets included: never log it)."""
    kafka = settings.kafka
    config: dict[str, str] = {"security.protocol": kafka.security_protocol}
    if kafka.security_protocol in ("SSL", "SASL_SSL") and kafka.ssl_ca_location is not None:
        config["ssl.ca.location"] = str(kafka.ssl_ca_location)
    mechanism = kafka.sasl_mechanism
    if mechanism is None:
        return config
    if mechanism == "AWS_MSK_IAM":
        # librdkafka has no IAM mechanism: MSK accepts the signed IAM token as an OAUTHBEARER token.
        config["sasl.mechanism"] = "OAUTHBEARER"
        return config
    config["sasl.mechanism"] = mechanism
    user, password = _user_and_password(kafka)
    if mechanism == "OAUTHBEARER":
        config.update(
            {
                "sasl.oauthbearer.method": "oidc",
                "sasl.oauthbearer.client.id": user,
                "sasl.oauthbearer.client.secret": password,
                "sasl.oauthbearer.token.endpoint.url": str(kafka.oauth_token_endpoint_url),
            }
        )
        if kafka.oauth_scope:
            config["sasl.oauthbearer.scope"] = kafka.oauth_scope
        return config
    config.update({"sasl.username": user, "sasl.password": password})
    return config


def spark_kafka_options(settings: Settings) -> dict[str, str]:
    """Options of Spark's Kafka source and sink (`.options(**...)`): bootstrap and security, `kafka.`-prefixed.

    AWS_MSK_IAM needs the aws-msk-iam-auth jar (Apache-2.0) on the driver's and executors' classpath: the
    project's Spark image carries it; the local stack does not.
    """
    kafka = settings.kafka
    java: dict[str, str] = {"bootstrap.servers": settings.kafka_bootstrap, "security.protocol": kafka.security_protocol}
    if kafka.security_protocol in ("SSL", "SASL_SSL") and kafka.ssl_ca_location is not None:
        # The Java client reads a PEM CA file directly as a PEM truststore (KIP-651), no JKS conversion.
        java["ssl.truststore.type"] = "PEM"
        java["ssl.truststore.location"] = str(kafka.ssl_ca_location)
    mechanism = kafka.sasl_mechanism
    if mechanism == "AWS_MSK_IAM":
        java.update(
            {
                "sasl.mechanism": "AWS_MSK_IAM",
                "sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
                "sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
            }
        )
    elif mechanism == "OAUTHBEARER":
        user, password = _user_and_password(kafka)
        scope = f" scope={_jaas_quote(kafka.oauth_scope)}" if kafka.oauth_scope else ""
        java.update(
            {
                "sasl.mechanism": "OAUTHBEARER",
                "sasl.oauthbearer.token.endpoint.url": str(kafka.oauth_token_endpoint_url),
                "sasl.login.callback.handler.class": (
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
                ),
                "sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
                f"clientId={_jaas_quote(user)} clientSecret={_jaas_quote(password)}{scope};",
            }
        )
    elif mechanism is not None:
        user, password = _user_and_password(kafka)
        java.update(
            {
                "sasl.mechanism": mechanism,
                "sasl.jaas.config": f"{_JAVA_LOGIN_MODULES[mechanism]} required "
                f"username={_jaas_quote(user)} password={_jaas_quote(password)};",
            }
        )
    return {f"kafka.{key}": value for key, value in java.items()}


def msk_iam_token_callback(region: str) -> Callable[[str], tuple[str, float]]:
    """librdkafka's `oauth_cb` for MSK IAM: a token signed by aws-msk-iam-sasl-signer-python (Apache-2.0)."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError as exc:
        raise ConfigError(
            "kafka.sasl_mechanism=AWS_MSK_IAM needs aws-msk-iam-sasl-signer-python: pip install 'marketpulse[cloud]'"
        ) from exc

    def token(_config: str) -> tuple[str, float]:
        value, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return value, expiry_ms / 1000  # librdkafka wants seconds since the epoch

    return token


def _user_and_password(kafka: KafkaSettings) -> tuple[str, str]:
    # KafkaSettings' validator guarantees both for the mechanisms that reach here.
    assert kafka.sasl_username is not None and kafka.sasl_password is not None
    return kafka.sasl_username, kafka.sasl_password.get_secret_value()


def _jaas_quote(value: str) -> str:
    """A JAAS option value in double quotes; the parser (a StreamTokenizer) unescapes backslash and quote."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
