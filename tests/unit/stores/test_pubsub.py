"""The live path's pub/sub channel names: the alert channel of a key round-trips, other channels are not alerts."""

from __future__ import annotations

import fnmatch

import pytest

from marketpulse.stores.pubsub import ALERTS_PATTERN, LIVE_PATTERN, alerts_channel, alerts_key_of

pytestmark = pytest.mark.unit


def test_an_alert_channel_names_its_key_and_matches_the_alerts_pattern_only() -> None:
    channel = alerts_channel("k-123")
    assert alerts_key_of(channel) == "k-123"
    assert fnmatch.fnmatchcase(channel, ALERTS_PATTERN) and not fnmatch.fnmatchcase(channel, LIVE_PATTERN)
    assert alerts_key_of("mp:live:AAPL") is None
