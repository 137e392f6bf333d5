"""Optional heavy dependencies, each behind one small module that raises an install hint when it is missing.

Import them from here (`from marketpulse.optional.torch import torch, nn`), inside the function that needs them:
the light processes (CLI, API, alert service, dashboard) never pay for them, and a machine without the extra
gets "torch is not installed: pip install 'marketpulse[ml]'" instead of a bare ModuleNotFoundError.
"""

from __future__ import annotations

from marketpulse.errors import ConfigError


class MissingExtraError(ConfigError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it. Still an ImportError,
    so code that degrades without the dependency (serving without torch) keeps catching it."""


def install_hint(package: str, extra: str) -> MissingExtraError:
    """The error for a missing optional package: which extra installs it."""
    return MissingExtraError(f"{package} is not installed: pip install 'marketpulse[{extra}]'")
