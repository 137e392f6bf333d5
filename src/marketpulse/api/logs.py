"""Keys never reach a log: a filter on the root and uvicorn handlers redacts anything shaped like a key
(the WebSocket's `?api_key=` lands in uvicorn's access log otherwise)."""

from __future__ import annotations

import logging

from marketpulse.auth.keys import redact


class RedactApiKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


_FILTER = RedactApiKeys()


def redact_api_keys_in_logs() -> None:
    """Install the filter on the loggers that print request lines and errors (idempotent)."""
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "marketpulse"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
