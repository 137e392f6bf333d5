"""Webhook targets (SSRF): loopback, private, link-local (cloud metadata), multicast and reserved addresses are
refused unless the operator's allowlist names them; a checked URL is pinned to the address that was checked."""

from __future__ import annotations

import pytest

from marketpulse.alerts.targets import WebhookTargetError, resolve_target

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1:5432/", "loopback"),
        ("http://localhost:8000/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0/hook", "unspecified"),
    ],
)
def test_internal_targets_are_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookTargetError, match=reason):
        resolve_target(url, allow=[])


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/x", "file:///etc/passwd", "http:///nohost"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(WebhookTargetError, match="http"):
        resolve_target(url, allow=[])


def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(WebhookTargetError, match="does not resolve"):
        resolve_target("https://no-such-host.invalid/hook", allow=[])


def test_the_allowlist_names_hosts_addresses_and_networks() -> None:
    assert resolve_target("http://127.0.0.1:9/hook", allow=["127.0.0.1"]).address == "127.0.0.1"
    assert resolve_target("http://10.1.2.3/hook", allow=["10.0.0.0/8"]).address == "10.1.2.3"
    assert resolve_target("http://localhost:8000/hook", allow=["LOCALHOST"]).host == "localhost"
    with pytest.raises(WebhookTargetError):
        resolve_target("http://10.1.2.3/hook", allow=["10.9.0.0/16"])


def test_a_public_target_is_pinned_to_the_checked_address() -> None:
    target = resolve_target("https://93.184.215.14:8443/a/b?x=1", allow=[])
    assert target.connect_url == "https://93.184.215.14:8443/a/b?x=1"
    assert target.host_header == "93.184.215.14:8443"
    allowed = resolve_target("http://localhost:8000/hook", allow=["localhost"])
    assert allowed.connect_url in ("http://127.0.0.1:8000/hook", "http://[::1]:8000/hook")
    assert allowed.host_header == "localhost:8000"  # the receiver still sees the name it was given
