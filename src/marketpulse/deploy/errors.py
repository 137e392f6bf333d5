"""Errors of the deploy package."""

from __future__ import annotations

from marketpulse.errors import MarketPulseError


class TerraformError(MarketPulseError):
    """Terraform, a provider build or an environment's outputs failed; the message says which and why."""

    http_status = 503
