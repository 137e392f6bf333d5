"""One error hierarchy for the whole package; the API maps it to HTTP codes in one handler."""

from __future__ import annotations


class MarketPulseError(Exception):
    """Base of every error MarketPulse raises on purpose."""

    http_status = 500


class ConfigError(MarketPulseError):
    """Settings or an input file are wrong; the message says which and how to fix it."""

    http_status = 400


class StackError(MarketPulseError):
    """A local-stack service could not be installed, started, checked or stopped."""

    http_status = 503


class InstallError(StackError):
    """A program or jar the stack needs could not be installed."""


class ServiceStartError(StackError):
    """A service did not become ready; the message carries the tail of its log."""
