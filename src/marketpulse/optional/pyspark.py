"""PySpark (marketpulse[spark]): the streaming jobs and their DataFrame transforms."""

from marketpulse.optional import install_hint

try:
    import pyspark as pyspark
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as exc:
    raise install_hint("pyspark", "spark") from exc

__all__ = ["F", "T", "pyspark"]
