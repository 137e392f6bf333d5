"""One way to build a SparkSession, so every job and test gets the same connectors and limits."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.stack.services import SparkService

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(settings: Settings, app_name: str) -> SparkSession:
    """A local-mode SparkSession with the Kafka connector jars from the stack cache on its classpath."""
    from pyspark.sql import SparkSession

    jars = SparkService(settings).connector_jars()
    if not jars:
        raise StackError("Spark connector jars are not installed; run `marketpulse stack install spark`")
    # Python workers must run this interpreter (the venv with pandas/pyarrow): pyspark reads PYSPARK_PYTHON.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = settings.stack.run_dir / "spark" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    return (
        SparkSession.builder.master(settings.spark.master)
        .appName(app_name)
        .config("spark.jars", ",".join(str(jar) for jar in jars))
        .config("spark.driver.memory", settings.spark.driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.spark.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.local.dir", str(scratch))
        .config("spark.ui.showConsoleProgress", "false")
        # Local mode talks to itself only: loopback avoids the hostname lookup and its warning.
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
