"""The stream's validation rules of a contract, derived once from its pydantic field constraints.

The producers validate with the pydantic model itself. The streaming jobs validate whole micro-batches at once,
without a Python call per record: the Spark form (`contracts.spark`, for the text topics) and the Arrow form
(`contracts.arrow`, for the ticks, in the market job's driver) both evaluate this one list, in this order, and
report the first rule a record breaks as its DLQ reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args, get_origin

import annotated_types as at

from marketpulse.contracts.base import Contract, _unwrap_optional, to_epoch_ns
from marketpulse.contracts.market import EARLIEST_EVENT, MAX_CLOCK_SKEW, SYMBOL_PATTERN, Tick
from marketpulse.contracts.text import TextItem

#: Reasons of the parsers' own strictness checks (both stream forms): a name outside the contract (pydantic
#: forbids extra fields), and a present value of the wrong JSON type in an optional field.
UNKNOWN_FIELDS = "fields not in the contract"
WRONG_TYPE = "a field holds a value of the wrong type"

RuleKind = Literal[
    "no_version",  # not JSON, not an object, or no "v"
    "version",  # "v" is not the model's SCHEMA_VERSION
    "missing",  # a required field is absent or not of its type
    "not_finite",  # NaN or +-inf in a float field
    "future",  # event time later than now + MAX_CLOCK_SKEW (bound: the skew in ns)
    "too_early",  # event time before EARLIEST_EVENT (bound: epoch ns)
    "gt",
    "ge",
    "lt",
    "le",
    "min_len",
    "max_len",
    "pattern",  # bound: the pydantic pattern (anchored with ^...$, meaning the very end of the text)
    "one_of",  # a Literal field: bound is the tuple of allowed strings
    "above",  # cross-field: field > bound (another field's name), both present
    "each_matches",  # a list field: every element matches the pattern in bound
]


@dataclass(frozen=True)
class Rule:
    """One check: the `field` it reads (None for the version rules), its kind, its bound and the DLQ reason."""

    field: str | None
    kind: RuleKind
    reason: str
    bound: Any = None


#: pydantic's bound constraints: (its annotated_types class, rule kind, the attribute holding the bound, reason).
_BOUNDS: tuple[tuple[type, RuleKind, str, str], ...] = (
    (at.Gt, "gt", "gt", "must be greater than"),
    (at.Ge, "ge", "ge", "must be at least"),
    (at.Lt, "lt", "lt", "must be less than"),
    (at.Le, "le", "le", "must be at most"),
    (at.MinLen, "min_len", "min_length", "shorter than"),
    (at.MaxLen, "max_len", "max_length", "longer than"),
)


def _field_rules(name: str, info: Any) -> list[Rule]:
    annotation, optional = _unwrap_optional(info.annotation)
    rules: list[Rule] = []
    if not optional and info.is_required():  # a field with a default (a text's `replayed`) may be left out
        rules.append(Rule(name, "missing", f"{name}: missing or not a {getattr(annotation, '__name__', 'value')}"))
    if annotation is float:
        rules.append(Rule(name, "not_finite", f"{name}: not a finite number"))
    if annotation is datetime:
        skew_ns = int(MAX_CLOCK_SKEW.total_seconds() * 1e9)
        rules.append(Rule(name, "future", f"{name}: event time is in the future", skew_ns))
        early = f"{name}: event time before {EARLIEST_EVENT.year}: a unit error?"
        rules.append(Rule(name, "too_early", early, to_epoch_ns(EARLIEST_EVENT)))
    for constraint in info.metadata:
        for constraint_type, kind, attribute, words in _BOUNDS:
            if isinstance(constraint, constraint_type):
                bound = getattr(constraint, attribute)
                rules.append(Rule(name, kind, f"{name}: {words} {bound}", bound))
        if getattr(constraint, "pattern", None):
            rules.append(Rule(name, "pattern", f"{name}: does not match {constraint.pattern}", constraint.pattern))
    if get_origin(annotation) is Literal:
        allowed = tuple(str(value) for value in get_args(annotation))
        rules.append(Rule(name, "one_of", f"{name}: must be one of {', '.join(allowed)}", allowed))
    return rules


def _model_rules(model: type[Contract]) -> list[Rule]:
    """Cross-field rules of the model validators (the part pydantic cannot describe as metadata)."""
    if model is Tick:
        return [Rule("bid", "above", "crossed quote: bid > ask", "ask")]
    if issubclass(model, TextItem):
        return [Rule("symbols", "each_matches", "symbols: not exchange tickers", SYMBOL_PATTERN)]
    return []


@dataclass(frozen=True)
class ContractRules:
    """A contract's rules in three groups, reported in this order: the envelope (JSON object with the right "v"),
    each field's own rules (in field order), then the cross-field ones. Each stream form adds its parser's own
    strictness checks between the groups (unknown names, values of the wrong JSON type)."""

    envelope: list[Rule]
    fields: list[Rule]
    cross: list[Rule]


def contract_rules(model: type[Contract]) -> ContractRules:
    """Every rule of `model`, grouped and in the order the first broken one is reported."""
    envelope = [
        Rule(None, "no_version", "not JSON, or no schema version 'v'"),
        Rule(None, "version", f"schema version is not {model.SCHEMA_VERSION}", model.SCHEMA_VERSION),
    ]
    fields = [rule for name, info in model.model_fields.items() for rule in _field_rules(name, info)]
    return ContractRules(envelope, fields, _model_rules(model))


def is_list_field(model: type[Contract], name: str) -> bool:
    """Length rules count characters of a string and elements of a list (the symbols of a text)."""
    annotation, _ = _unwrap_optional(model.model_fields[name].annotation)
    return get_origin(annotation) is list
