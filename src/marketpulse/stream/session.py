"""One way to build a SparkSession, so every job and test gets the same connectors and limits."""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.stack.services import SparkService

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(settings: Settings, app_name: str) -> SparkSession:
    """A SparkSession with the Kafka connector jars from the stack cache on its classpath.

    Local mode (`local[N]`) runs everything in this process's JVM. A cluster master (`spark://`, `k8s://`) gets the
    configured driver address and executor interpreter, and the project shipped to its executors.
    """
    from pyspark.sql import SparkSession

    spark = settings.spark
    jars = SparkService(settings).connector_jars()
    if not jars:
        raise StackError("Spark connector jars are not installed; run `marketpulse stack install spark`")
    # Python workers must run this interpreter (the venv with pandas/pyarrow): pyspark reads PYSPARK_PYTHON.
    os.environ.setdefault("PYSPARK_PYTHON", spark.executor_python or sys.executable)
    scratch = settings.stack.run_dir / "spark" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    builder = (
        SparkSession.builder.master(spark.master)
        .appName(app_name)
        .config("spark.jars", ",".join(str(jar) for jar in jars))
        .config("spark.driver.memory", spark.driver_memory)
        .config("spark.sql.shuffle.partitions", str(spark.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.local.dir", str(scratch))
        .config("spark.ui.showConsoleProgress", "false")
        # The address executors call back; local mode talks to itself, so loopback (no hostname lookup) by default.
        .config("spark.driver.host", spark.driver_host)
        .config("spark.driver.bindAddress", spark.driver_bind_address or spark.driver_host)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if not is_local_master(spark.master):
        builder = builder.config("spark.executor.memory", spark.executor_memory).config(
            "spark.pyspark.python", spark.executor_python or sys.executable
        )
    session = builder.getOrCreate()
    if not is_local_master(spark.master) and spark.ship_project:
        # What --py-files does for spark-submit: executors put the zip first on their sys.path.
        session.sparkContext.addPyFile(str(project_zip(settings.stack.run_dir / "spark" / "ship")))
    return session


def is_local_master(master: str) -> bool:
    """True for local mode (driver and executors in one JVM: nothing to ship, no address to publish)."""
    return master == "local" or master.startswith("local[")


def project_zip(folder: Path) -> Path:
    """The marketpulse package's Python sources as a zip importable from sys.path (executors need code, not data).

    Named by the sources' content, so a changed tree is shipped under a new name and executors never reuse a stale
    copy; model weights and other data files stay on the driver, the only process that reads them.
    """
    package = Path(__file__).resolve().parent.parent
    sources = sorted(path for path in package.rglob("*.py") if "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path.relative_to(package.parent)).encode())
        digest.update(path.read_bytes())
    target = folder / f"marketpulse-{digest.hexdigest()[:12]}.zip"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sources:
            # Fixed timestamps: the same sources give the same bytes.
            info = zipfile.ZipInfo(str(path.relative_to(package.parent)), date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(target)
    return target
