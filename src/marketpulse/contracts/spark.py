"""Contract validation as Spark column expressions, derived from the same pydantic field constraints.

The stream must reject exactly what the producers' models reject, without calling Python per row:
each `Field(gt=..., pattern=...)` becomes a Column that is true when a row breaks it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_origin

import annotated_types as at

from marketpulse.contracts.base import Contract, _unwrap_optional, to_epoch_ns, wire_schema
from marketpulse.contracts.market import EARLIEST_EVENT, MAX_CLOCK_SKEW, Tick


def _field_rules(name: str, info: Any, column: Any) -> list[tuple[str, Any]]:
    from pyspark.sql import functions as F

    annotation, optional = _unwrap_optional(info.annotation)
    rules: list[tuple[str, Any]] = []
    # Length limits count characters of a string and elements of a list (the symbols of a text).
    length = F.size(column) if get_origin(annotation) is list else F.length(column)
    if not optional:
        rules.append((f"{name}: missing or not a {getattr(annotation, '__name__', 'value')}", column.isNull()))
    if annotation is float:
        rules.append((f"{name}: not a finite number", F.isnan(column) | (F.abs(column) == float("inf"))))
    if annotation is datetime:
        now_ns = F.unix_micros(F.current_timestamp()) * 1000
        skew_ns = int(MAX_CLOCK_SKEW.total_seconds() * 1e9)
        rules.append((f"{name}: event time is in the future", column > now_ns + skew_ns))
        rules.append(
            (f"{name}: event time before {EARLIEST_EVENT.year}: a unit error?", column < to_epoch_ns(EARLIEST_EVENT))
        )
    for constraint in info.metadata:
        if isinstance(constraint, at.Gt):
            rules.append((f"{name}: must be greater than {constraint.gt}", column <= constraint.gt))
        elif isinstance(constraint, at.Ge):
            rules.append((f"{name}: must be at least {constraint.ge}", column < constraint.ge))
        elif isinstance(constraint, at.Lt):
            rules.append((f"{name}: must be less than {constraint.lt}", column >= constraint.lt))
        elif isinstance(constraint, at.Le):
            rules.append((f"{name}: must be at most {constraint.le}", column > constraint.le))
        elif isinstance(constraint, at.MinLen):
            rules.append((f"{name}: shorter than {constraint.min_length}", length < constraint.min_length))
        elif isinstance(constraint, at.MaxLen):
            rules.append((f"{name}: longer than {constraint.max_length}", length > constraint.max_length))
        elif getattr(constraint, "pattern", None):
            rules.append((f"{name}: does not match {constraint.pattern}", ~column.rlike(constraint.pattern)))
    return rules


def _model_rules(model: type[Contract], event: Any) -> list[tuple[str, Any]]:
    """Cross-field rules of the model validators (the part pydantic cannot describe as metadata)."""
    if model is Tick:
        return [
            (
                "crossed quote: bid > ask",
                event["bid"].isNotNull() & event["ask"].isNotNull() & (event["bid"] > event["ask"]),
            )
        ]
    return []


def rejection_reason(model: type[Contract], event: Any) -> Any:
    """A Column: null for a valid parsed wire struct, else the first broken rule as text."""
    from pyspark.sql import functions as F

    rules: list[tuple[str, Any]] = [
        # from_json yields a struct of nulls for text that is not JSON: "v" is then missing too.
        ("not JSON, or no schema version 'v'", event.isNull() | event["v"].isNull()),
        (f"schema version is not {model.SCHEMA_VERSION}", event["v"] != model.SCHEMA_VERSION),
    ]
    for name, info in model.model_fields.items():
        rules.extend(_field_rules(name, info, event[name]))
    rules.extend(_model_rules(model, event))
    reason = F.lit(None).cast("string")
    for text, broken in reversed(rules):
        reason = F.when(broken, F.lit(text)).otherwise(reason)
    return reason


def parse_wire(raw: Any, model: type[Contract]) -> Any:
    """Kafka rows (key, value, timestamp, ...) -> the contract's fields + `reason` (null when valid).

    Timestamps become TimestampType; `value`, `key` and `kafka_ts` are kept for the DLQ and latency.
    """
    from pyspark.sql import functions as F

    event = F.from_json(F.col("value").cast("string"), wire_schema(model), {"mode": "PERMISSIVE"})
    parsed = raw.select(F.col("key"), F.col("value"), F.col("timestamp").alias("kafka_ts"), event.alias("e"))
    columns = [F.col("key"), F.col("value"), F.col("kafka_ts"), rejection_reason(model, F.col("e")).alias("reason")]
    for name, info in model.model_fields.items():
        annotation, _ = _unwrap_optional(info.annotation)
        field = F.col("e")[name]
        if annotation is datetime:
            # Integer division: epoch ns (~1.4e18) does not fit a double's 53-bit mantissa exactly.
            columns.append(F.timestamp_micros(F.expr(f"e.{name} div 1000")).alias(name))
        else:
            columns.append(field.alias(name))
    return parsed.select(*columns)
