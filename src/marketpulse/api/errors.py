"""API errors and the handlers that render every failure as `{"error": {"code": ..., "message": ...}}`.

Handlers raise MarketPulseError subclasses; one handler maps them to their `http_status`. Request validation,
routing errors (404/405) and store outages are rendered in the same shape, so clients parse one error format.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import NoHostAvailable
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException

from marketpulse.errors import MarketPulseError

log = logging.getLogger(__name__)


class NotFoundError(MarketPulseError):
    """The resource (a symbol, say) does not exist."""

    http_status = 404


class InvalidRequestError(MarketPulseError):
    """A parameter is well-formed but not acceptable (range too long, bad cursor); the message says why."""

    http_status = 422


class PayloadTooLargeError(MarketPulseError):
    """The request body is larger than api.max_body_bytes."""

    http_status = 413


class BodyLimit:
    """Pure ASGI: refuses a body over `max_bytes` (by Content-Length at once, else while it streams in) with 413."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen, refused, started = 0, False, False

        async def counted() -> Any:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes and not refused:
                refused = True
                if not started:
                    await self._refuse(send)
                # The app sees the client gone: it stops reading, and what it would answer is dropped.
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if not refused:
                started = True
                await send(message)

        await self.app(scope, counted, guarded_send)

    async def _refuse(self, send: Any) -> None:
        error = PayloadTooLargeError(f"request body larger than {self.max_bytes} bytes")
        status, body, _ = render_error(error)
        await send({"type": "http.response.start", "status": status, "headers": _JSON})
        await send({"type": "http.response.body", "body": body})


_JSON = [(b"content-type", b"application/json")]


class DependencyUnavailableError(MarketPulseError):
    """Redis or Cassandra could not answer."""

    http_status = 503


def error_code(exc: MarketPulseError) -> str:
    """Stable machine-readable code from the class name: NotFoundError -> not_found."""
    name = type(exc).__name__.removesuffix("Error") or "MarketPulse"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _store_errors() -> tuple[type[Exception], ...]:
    """Driver exceptions that mean "the store is down or slow", not "the request is wrong"."""
    return (NoHostAvailable, OperationTimedOut, RequestExecutionException, RedisConnectionError, RedisTimeoutError)


RawHeaders = list[tuple[bytes, bytes]]


def render_error(exc: MarketPulseError) -> tuple[int, bytes, RawHeaders]:
    """(status, body, extra headers) of an error, for the plain-ASGI latest-quote lane."""
    headers: dict[str, str] = getattr(exc, "headers", None) or {}
    extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return exc.http_status, orjson.dumps(error_body(error_code(exc), str(exc))), extra


def render_store_error(exc: Exception, scope_path: str) -> tuple[int, bytes, RawHeaders]:
    log.warning("GET %s: store unavailable: %r", scope_path, exc)
    return 503, orjson.dumps(error_body("dependency_unavailable", _store_message(exc))), []


def _store_message(exc: Exception) -> str:
    return f"a data store did not answer ({type(exc).__name__}); retry later"


async def _marketpulse_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MarketPulseError)
    if exc.http_status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    headers = getattr(exc, "headers", None)  # WWW-Authenticate on 401, Retry-After on 429
    return JSONResponse(error_body(error_code(exc), str(exc)), status_code=exc.http_status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"location": ".".join(str(part) for part in err["loc"]), "message": err["msg"], "type": err["type"]}
        for err in exc.errors()
    ]
    message = "; ".join(f"{d['location']}: {d['message']}" for d in details) or "invalid request"
    return JSONResponse(error_body("validation_error", message, details=details), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: store unavailable: %r", request.method, request.url.path, exc)
    return JSONResponse(error_body("dependency_unavailable", _store_message(exc)), status_code=503)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s: unexpected error", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MarketPulseError, _marketpulse_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for store_error in _store_errors():
        app.add_exception_handler(store_error, _store_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)
