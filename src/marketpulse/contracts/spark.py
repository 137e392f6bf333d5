"""Contract validation as Spark column expressions, derived from the same pydantic field constraints.

The stream must reject exactly what the producers' models reject, without calling Python per row:
each `Field(gt=..., pattern=...)` becomes a Column that is true when a row breaks it.

Spark's JSON reader is laxer than pydantic in ways a hostile producer can use (found by bench/hostile_input.py),
so the parse is made strict here: string fields are read as VARIANT and must hold a JSON string (Spark would
turn 42, true or {"a": 1} into the text "42", "true", '{"a":1}'); an optional number of the wrong type (Spark
makes it null, i.e. absent) is caught through the reader's corrupt-record column; names outside the contract are
refused (pydantic forbids extra fields, Spark ignores them); Literal fields must hold one of their values; a
text's symbols must each be a ticker; and patterns end at the very end of the text (Java's `$` also matches
before a final line terminator, so "AAPL\n" passed).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, get_args, get_origin

import annotated_types as at

from marketpulse.contracts.base import Contract, _unwrap_optional, to_epoch_ns, wire_schema
from marketpulse.contracts.market import EARLIEST_EVENT, MAX_CLOCK_SKEW, SYMBOL_PATTERN, Tick
from marketpulse.contracts.text import TextItem

#: The reader's column for records it could not convert to the schema (a field of the wrong JSON type).
CORRUPT = "_corrupt_record"


def java_pattern(pattern: str) -> str:
    """A pydantic (Rust regex) pattern for Java's rlike: a final `$` becomes `\\z` (the very end of the text)."""
    return re.sub(r"(?<!\\)\$$", r"\\z", pattern)


def _is_string(annotation: Any) -> bool:
    return annotation is str or get_origin(annotation) is Literal


def _string_fields(model: type[Contract]) -> list[str]:
    return [name for name, info in model.model_fields.items() if _is_string(_unwrap_optional(info.annotation)[0])]


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
            rules.append(
                (f"{name}: does not match {constraint.pattern}", ~column.rlike(java_pattern(constraint.pattern)))
            )
    if get_origin(annotation) is Literal:
        allowed = [str(value) for value in get_args(annotation)]
        rules.append((f"{name}: must be one of {', '.join(allowed)}", ~column.isin(allowed)))
    return rules


def _model_rules(model: type[Contract], event: Any) -> list[tuple[str, Any]]:
    """Cross-field rules of the model validators (the part pydantic cannot describe as metadata)."""
    from pyspark.sql import functions as F

    if model is Tick:
        return [
            (
                "crossed quote: bid > ask",
                event["bid"].isNotNull() & event["ask"].isNotNull() & (event["bid"] > event["ask"]),
            )
        ]
    if issubclass(model, TextItem):
        ticker = java_pattern(SYMBOL_PATTERN)
        return [("symbols: not exchange tickers", F.exists(event["symbols"], lambda symbol: ~symbol.rlike(ticker)))]
    return []


def rejection_reason(model: type[Contract], event: Any, raw: Any = None) -> Any:
    """A Column: null for a valid parsed wire struct, else the first broken rule as text.

    `event` is the struct of `strict_wire_schema` with its string fields already extracted (parse_wire), `raw`
    the record's text (for the field names; None skips that rule)."""
    from pyspark.sql import functions as F

    rules: list[tuple[str, Any]] = [
        # from_json yields a struct of nulls for text that is not JSON: "v" is then missing too.
        ("not JSON, or no schema version 'v'", event.isNull() | event["v"].isNull()),
        (f"schema version is not {model.SCHEMA_VERSION}", event["v"] != model.SCHEMA_VERSION),
    ]
    if raw is not None:
        names = F.array(*(F.lit(name) for name in ["v", *model.model_fields]))
        unknown = F.array_except(F.json_object_keys(raw), names)
        rules.append(("fields not in the contract", F.size(unknown) > 0))
    for name, info in model.model_fields.items():
        rules.extend(_field_rules(name, info, event[name]))
    for name in _string_fields(model):
        # VOID is JSON null: absent for an optional field, and a missing required one is reported above.
        rules.append((f"{name}: not a string", ~event[f"{name}__type"].isin("STRING", "VOID")))
    rules.extend(_model_rules(model, event))
    rules.append(("a field holds a value of the wrong type", event[CORRUPT].isNotNull()))
    reason = F.lit(None).cast("string")
    for text, broken in reversed(rules):
        reason = F.when(broken, F.lit(text)).otherwise(reason)
    return reason


def strict_wire_schema(model: type[Contract]) -> Any:
    """The wire schema with string fields as VARIANT (their JSON type stays known) and the corrupt-record column."""
    from pyspark.sql import types as T

    strings = _string_fields(model)
    fields = [
        T.StructField(field.name, T.VariantType(), field.nullable) if field.name in strings else field
        for field in wire_schema(model).fields
    ]
    return T.StructType([*fields, T.StructField(CORRUPT, T.StringType(), True)])


def parse_wire(raw: Any, model: type[Contract]) -> Any:
    """Kafka rows (key, value, timestamp, ...) -> the contract's fields + `reason` (null when valid).

    Timestamps become TimestampType; `value`, `key` and `kafka_ts` are kept for the DLQ and latency.
    """
    from pyspark.sql import functions as F

    text = F.col("value").cast("string")
    event = F.from_json(text, strict_wire_schema(model), {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    parsed = raw.select(
        F.col("key"), F.col("value"), F.col("timestamp").alias("kafka_ts"), text.alias("text"), event.alias("w")
    )
    # The string fields as text, each with its JSON type beside it (null when absent).
    strings = _string_fields(model)
    extracted = [F.expr(f"variant_get(w.{n}, '$', 'string')").alias(n) for n in strings]
    types = [F.expr(f"schema_of_variant(w.{n})").alias(f"{n}__type") for n in strings]
    kept = [F.col(f"w.{n}").alias(n) for n in ["v", *model.model_fields, CORRUPT] if n not in strings]
    struct = F.when(F.col("w").isNull(), F.lit(None)).otherwise(F.struct(*kept, *extracted, *types))
    parsed = parsed.select("key", "value", "kafka_ts", "text", struct.alias("e"))
    columns = [
        F.col("key"),
        F.col("value"),
        F.col("kafka_ts"),
        rejection_reason(model, F.col("e"), F.col("text")).alias("reason"),
    ]
    for name, info in model.model_fields.items():
        annotation, _ = _unwrap_optional(info.annotation)
        field = F.col("e")[name]
        if annotation is datetime:
            # Integer division: epoch ns (~1.4e18) does not fit a double's 53-bit mantissa exactly.
            columns.append(F.timestamp_micros(F.expr(f"e.{name} div 1000")).alias(name))
        else:
            columns.append(field.alias(name))
    return parsed.select(*columns)
