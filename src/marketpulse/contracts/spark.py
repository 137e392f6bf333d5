"""Contract validation as Spark column expressions (the text topics' job), from `contracts.rules`.

The stream must reject exactly what the producers' models reject, without calling Python per row: each rule
of `contracts.rules` (derived once from the pydantic field constraints; the market job's driver evaluates the
same list over Arrow, `contracts.arrow`) becomes a Column that is true when a row breaks it.

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
from typing import Any, Literal, get_origin

from marketpulse.contracts.base import Contract, _unwrap_optional, wire_schema
from marketpulse.contracts.rules import UNKNOWN_FIELDS, WRONG_TYPE, Rule, contract_rules, is_list_field

#: The reader's column for records it could not convert to the schema (a field of the wrong JSON type).
CORRUPT = "_corrupt_record"


def java_pattern(pattern: str) -> str:
    """A pydantic (Rust regex) pattern for Java's rlike: a final `$` becomes `\\z` (the very end of the text)."""
    return re.sub(r"(?<!\\)\$$", r"\\z", pattern)


def _is_string(annotation: Any) -> bool:
    return annotation is str or get_origin(annotation) is Literal


def _string_fields(model: type[Contract]) -> list[str]:
    return [name for name, info in model.model_fields.items() if _is_string(_unwrap_optional(info.annotation)[0])]


def _broken(rule: Rule, event: Any, model: type[Contract]) -> Any:
    """A Column: true where a row breaks `rule` (contracts.rules)."""
    from pyspark.sql import functions as F

    if rule.kind == "no_version":
        # from_json yields a struct of nulls for text that is not JSON: "v" is then missing too.
        return event.isNull() | event["v"].isNull()
    if rule.kind == "version":
        return event["v"] != rule.bound
    column = event[rule.field]
    if rule.kind == "missing":
        return column.isNull()
    if rule.kind == "not_finite":
        return F.isnan(column) | (F.abs(column) == float("inf"))
    if rule.kind == "future":
        return column > F.unix_micros(F.current_timestamp()) * 1000 + rule.bound
    if rule.kind == "too_early":
        return column < rule.bound
    if rule.kind in ("min_len", "max_len"):
        length = F.size(column) if is_list_field(model, str(rule.field)) else F.length(column)
        return length < rule.bound if rule.kind == "min_len" else length > rule.bound
    if rule.kind == "pattern":
        return ~column.rlike(java_pattern(rule.bound))
    if rule.kind == "one_of":
        return ~column.isin(list(rule.bound))
    if rule.kind == "above":
        other = event[rule.bound]
        return column.isNotNull() & other.isNotNull() & (column > other)
    if rule.kind == "each_matches":
        pattern = java_pattern(rule.bound)
        return F.exists(column, lambda item: ~item.rlike(pattern))
    comparisons = {"gt": column <= rule.bound, "ge": column < rule.bound, "lt": column >= rule.bound}
    return comparisons.get(rule.kind, column > rule.bound)  # "le"


def rejection_reason(model: type[Contract], event: Any, raw: Any = None) -> Any:
    """A Column: null for a valid parsed wire struct, else the first broken rule as text.

    `event` is the struct of `strict_wire_schema` with its string fields already extracted (parse_wire), `raw`
    the record's text (for the field names; None skips that rule)."""
    from pyspark.sql import functions as F

    grouped = contract_rules(model)
    rules: list[tuple[str, Any]] = [(r.reason, _broken(r, event, model)) for r in grouped.envelope]
    if raw is not None:
        names = F.array(*(F.lit(name) for name in ["v", *model.model_fields]))
        unknown = F.array_except(F.json_object_keys(raw), names)
        rules.append((UNKNOWN_FIELDS, F.size(unknown) > 0))
    rules += [(r.reason, _broken(r, event, model)) for r in grouped.fields]
    for name in _string_fields(model):
        # VOID is JSON null: absent for an optional field, and a missing required one is reported above.
        rules.append((f"{name}: not a string", ~event[f"{name}__type"].isin("STRING", "VOID")))
    rules += [(r.reason, _broken(r, event, model)) for r in grouped.cross]
    rules.append((WRONG_TYPE, event[CORRUPT].isNotNull()))
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
