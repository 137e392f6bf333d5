"""Contract machinery: one pydantic model per event, and the encodings derived from it."""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from marketpulse.errors import MarketPulseError

C = TypeVar("C", bound="Contract")


class ContractError(MarketPulseError):
    """Input that does not satisfy a contract; the message is the DLQ reason."""

    http_status = 422


class Contract(BaseModel):
    """Base of every event. Timestamps are UTC; on the wire they are integer epoch nanoseconds."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    #: Bumped on any incompatible change; written as "v" on the wire and checked on read.
    SCHEMA_VERSION: ClassVar[int] = 1


def to_epoch_ns(value: datetime) -> int:
    """UTC datetime -> integer nanoseconds since the epoch (microsecond precision kept exactly)."""
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_epoch_ns(value: int) -> datetime:
    """Integer epoch nanoseconds -> UTC datetime (truncated to microseconds, as Spark keeps them)."""
    return datetime.fromtimestamp(value // 1_000 / 1_000_000, tz=UTC)


def to_wire(event: Contract) -> bytes:
    """Encode an event as the JSON the topics carry (datetimes as epoch ns, plus the schema version "v")."""
    payload = event.model_dump(mode="python")
    wire = {"v": event.SCHEMA_VERSION}
    for name, value in payload.items():
        wire[name] = to_epoch_ns(value) if isinstance(value, datetime) else value
    return json.dumps(wire, separators=(",", ":")).encode()


def from_wire(model: type[C], raw: bytes | str) -> C:
    """Decode and validate one wire record; raise ContractError with a one-line reason."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"not JSON: {exc}") from exc
    except RecursionError as exc:  # thousands of nested brackets: refused like any other bad record, not a crash
        raise ContractError("not JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise ContractError(f"expected a JSON object, got {type(data).__name__}")
    version = data.pop("v", None)
    if version != model.SCHEMA_VERSION:
        raise ContractError(f"{model.__name__} schema version {version!r} is not {model.SCHEMA_VERSION}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise ContractError(f"{where}: {first['msg']}") from exc


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _spark_type(annotation: Any, *, timestamps_as_long: bool) -> Any:
    from pyspark.sql import types as T

    if annotation is datetime:
        return T.LongType() if timestamps_as_long else T.TimestampType()
    if get_origin(annotation) is typing.Literal:
        return T.StringType()
    if get_origin(annotation) is list:
        # Lists of simple values (the symbols a text mentions) become arrays of the element's type.
        (element,) = get_args(annotation)
        return T.ArrayType(_spark_type(element, timestamps_as_long=timestamps_as_long), False)
    simple = {str: T.StringType(), float: T.DoubleType(), int: T.LongType(), bool: T.BooleanType()}
    if annotation in simple:
        return simple[annotation]
    raise TypeError(f"no Spark type for {annotation!r}")


def _struct(model: type[Contract], *, timestamps_as_long: bool, with_version: bool) -> Any:
    from pyspark.sql import types as T

    fields = [T.StructField("v", T.LongType(), True)] if with_version else []
    for name, info in model.model_fields.items():
        annotation, optional = _unwrap_optional(info.annotation)
        spark_type = _spark_type(annotation, timestamps_as_long=timestamps_as_long)
        fields.append(T.StructField(name, spark_type, optional))
    return T.StructType(fields)


def wire_schema(model: type[Contract]) -> Any:
    """Spark StructType of the JSON on the topic (timestamps as epoch-ns longs, plus "v")."""
    return _struct(model, timestamps_as_long=True, with_version=True)


def spark_schema(model: type[Contract]) -> Any:
    """Spark StructType of the parsed event (timestamps as TimestampType)."""
    return _struct(model, timestamps_as_long=False, with_version=False)
