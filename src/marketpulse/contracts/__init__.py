"""The event types, defined once: pydantic model -> wire encoding (JSON) -> Spark StructType.

Producers validate with the models, the stream parses the wire with `wire_schema(Model)`, and the
API returns the same models, so a field added here reaches every stage.
"""

from marketpulse.contracts.base import (
    Contract,
    ContractError,
    from_wire,
    spark_schema,
    to_wire,
    wire_schema,
)
from marketpulse.contracts.market import (
    SYMBOL_PATTERN,
    Bar,
    IndicatorSnapshot,
    Prediction,
    Tick,
)
from marketpulse.contracts.topics import Topics

__all__ = [
    "SYMBOL_PATTERN",
    "Bar",
    "Contract",
    "ContractError",
    "IndicatorSnapshot",
    "Prediction",
    "Tick",
    "Topics",
    "from_wire",
    "spark_schema",
    "to_wire",
    "wire_schema",
]
