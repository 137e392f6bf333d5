"""Offline checks of terraform/ beyond names: argument values the providers' docs define, and tflint-style rules.

The cloud providers cannot run here (docs/decisions/0004), so `validate` never sees an EMR release label, a
Dataproc image or a Cassandra version. These rules do, from tables with their sources (decision 0010):
a managed Spark or Airflow whose version differs from the code's, an enum value the pinned provider rejects,
a public-PyPI install of the project. The tflint-style rules catch what review kept finding: unpinned
providers, hard-coded zones, unused variables, secrets in non-sensitive outputs, databases without deletion
protection. Values are read literally or through a variable's default in the same module; anything computed
is not judged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketpulse.config import AirflowSettings, SparkSettings
from marketpulse.deploy.schema_lint import Finding

_VAR = re.compile(r"^\$\{var\.([A-Za-z0-9_]+)\}$")

#: Spark version of each managed runtime's version string (decision 0010's table).
_SPARK_OF: list[tuple[str, str, str]] = [
    (r"^emr-7\.\d+\.\d+$", "3.5", "EMR 7.x release guide: Spark 3.5.x"),
    (r"^emr-spark-8\.0\.\d+$", "4.0", "emr-spark-8.0.0 release notes: Spark 4.0.2"),
    (r"^2\.[0-3](\.\d+)?(-\w+)?$", "3.5", "Dataproc 2.x images / Serverless 2.x runtimes: Spark 3.x"),
    (r"^3\.0(\.\d+)?(-\w+)?$", "4.0", "Dataproc image / Serverless runtime 3.0 (Preview): Spark 4.0.0"),
    (r"^3\.[45]$", "3.x", "Synapse Spark pools: spark_version 3.4 / 3.5"),
]
#: Cassandra versions azurerm 4.55 accepts for a managed instance (issue #26778's error; 4.1/5.0 came later).
AZURERM_CASSANDRA_VERSIONS = {"3.11", "4.0"}
#: Flexible Server versions of azurerm 4.55 (18 added in 4.55.0, CHANGELOG).
AZURERM_POSTGRES_VERSIONS = {str(v) for v in range(11, 19)}
#: Event Hubs tiers with a Kafka endpoint (Standard and above).
EVENTHUB_KAFKA_SKUS = {"Standard", "Premium"}


@dataclass(frozen=True)
class Module:
    """One folder of .tf files, parsed."""

    path: Path
    text: str
    resources: list[tuple[str, str, dict[str, Any]]]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    required_providers: dict[str, str]


def _unquote(value: Any) -> Any:
    return value[1:-1] if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"' else value


def load_module(path: Path) -> Module:
    """Parse every .tf file of one folder."""
    import hcl2

    text, resources, variables, outputs, providers = "", [], {}, {}, {}
    for tf in sorted(path.glob("*.tf")):
        text += tf.read_text()
        with tf.open() as handle:
            parsed = hcl2.load(handle)
        for kind in ("resource", "data"):
            for entry in parsed.get(kind, []):
                for raw_type, instances in entry.items():
                    for raw_name, body in instances.items():
                        prefix = "" if kind == "resource" else "data."
                        resources.append((prefix + _unquote(raw_type), _unquote(raw_name), body))
        for block in parsed.get("variable", []):
            variables.update({_unquote(k): v for k, v in block.items()})
        for block in parsed.get("output", []):
            outputs.update({_unquote(k): v for k, v in block.items()})
        for block in parsed.get("terraform", []):
            for required in block.get("required_providers", []):
                for name, spec in required.items():
                    if isinstance(spec, dict):
                        providers[name] = _unquote(spec.get("version", ""))
    return Module(path, text, resources, variables, outputs, providers)


def _value(module: Module, body: dict[str, Any], dotted: str) -> Any:
    """The literal at a dotted path of a body (nested blocks are lists of dicts), or a variable's default."""
    node: Any = body
    for part in dotted.split("."):
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    node = _unquote(node)
    if isinstance(node, str) and (match := _VAR.match(node)):
        node = _unquote(module.variables.get(match[1], {}).get("default"))
    return None if isinstance(node, str) and "${" in node else node


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _spark_rule(module: Module, type_name: str, name: str, body: dict[str, Any]) -> Iterator[str]:
    paths = {
        "aws_emrserverless_application": "release_label",
        "aws_emr_cluster": "release_label",
        "google_dataproc_cluster": "cluster_config.software_config.image_version",
        "google_dataproc_batch": "runtime_config.version",
        "azurerm_synapse_spark_pool": "spark_version",
    }
    if type_name not in paths:
        return
    wanted = _major_minor(SparkSettings().version)
    value = _value(module, body, paths[type_name])
    for pattern, spark, source in _SPARK_OF:
        if isinstance(value, str) and re.match(pattern, value) and spark != wanted:
            yield f"{paths[type_name]} = {value!r} runs Spark {spark} ({source}); the jobs are pyspark {wanted}"


def _airflow_rule(module: Module, type_name: str, name: str, body: dict[str, Any]) -> Iterator[str]:
    wanted = _major_minor(AirflowSettings().version)
    if type_name == "aws_mwaa_environment":
        value = _value(module, body, "airflow_version")
        if isinstance(value, str) and _major_minor(value) != wanted:
            yield f"airflow_version = {value!r}; the DAGs are built and tested on Airflow {wanted}"
    if type_name == "google_composer_environment":
        image = _value(module, body, "config.software_config.image_version")
        match = re.match(r"^composer-\d+(?:\.\d+\.\d+)?-airflow-(\d+\.\d+)", image) if isinstance(image, str) else None
        if match and match[1] != wanted:
            yield f"image_version = {image!r} runs Airflow {match[1]}; the DAGs are tested on Airflow {wanted}"
        packages = _value(module, body, "config.software_config.pypi_packages")
        if isinstance(packages, dict) and "marketpulse" in {_unquote(k) for k in packages}:
            yield "pypi_packages installs 'marketpulse' from public PyPI, where that name is not ours"


def _enum_rule(module: Module, type_name: str, name: str, body: dict[str, Any]) -> Iterator[str]:
    enums = {
        "azurerm_cosmosdb_cassandra_cluster": ("version", AZURERM_CASSANDRA_VERSIONS, "azurerm 4.55"),
        "azurerm_postgresql_flexible_server": ("version", AZURERM_POSTGRES_VERSIONS, "azurerm 4.55"),
        "azurerm_eventhub_namespace": ("sku", EVENTHUB_KAFKA_SKUS, "Event Hubs: Kafka endpoint from Standard up"),
    }
    if type_name not in enums:
        return
    argument, allowed, source = enums[type_name]
    value = _value(module, body, argument)
    if value is not None and str(value) not in allowed:
        yield f"{argument} = {value!r} is not one of {sorted(allowed)} ({source})"


def _msk_scram_rule(module: Module, type_name: str, name: str, body: dict[str, Any]) -> Iterator[str]:
    associated = any(t == "aws_msk_scram_secret_association" for t, _, _ in module.resources)
    if associated and type_name == "aws_secretsmanager_secret":
        secret = _value(module, body, "name")
        raw = _unquote(body.get("name", ""))
        if not str(raw).startswith("AmazonMSK_") and not str(secret or "").startswith("AmazonMSK_"):
            yield "MSK reads SCRAM users only from secrets named AmazonMSK_* (MSK developer guide)"


def _deletion_rule(module: Module, type_name: str, name: str, body: dict[str, Any]) -> Iterator[str]:
    protected = _value(module, body, "deletion_protection") is True
    if type_name in ("aws_db_instance", "google_sql_database_instance") and not protected:
        yield "a database without deletion_protection = true"
    if type_name == "azurerm_postgresql_flexible_server" and "azurerm_management_lock" not in module.text:
        yield "Flexible Server has no deletion flag: the module needs a CanNotDelete azurerm_management_lock"


RESOURCE_RULES: list[Callable[[Module, str, str, dict[str, Any]], Iterator[str]]] = [
    _spark_rule,
    _airflow_rule,
    _enum_rule,
    _msk_scram_rule,
    _deletion_rule,
]

# Attributes and variables that hold secret values (not names or ids of secrets).
_SECRET_WORDS = re.compile(
    r"\.(password|secret|auth_string|private_key|primary_access_key|primary_connection_string|client_key)\b"
    r"|var\.\w*(password|auth_token)\b"
)
_ZONE = re.compile(r'"(?:\$\{var\.region\}|[a-z]+-[a-z]+\d)-[a-f]"')


def _module_rules(module: Module) -> Iterator[tuple[str, str]]:
    """tflint-style rules over one module: (where, problem)."""
    for provider, constraint in module.required_providers.items():
        exact = re.fullmatch(r"=?\s*\d+\.\d+\.\d+", constraint or "")
        if not (exact or "<" in constraint or "~>" in constraint):
            yield (f"provider {provider}", f"version {constraint!r} has no upper bound (pin it or add '< N')")
    # A variable's own validation does not count as a use: search outside the variable blocks.
    usage = re.sub(r'(?ms)^variable "[^"]+" \{.*?^\}$', "", module.text)
    for name in module.variables:
        if not re.search(rf"\bvar\.{re.escape(name)}\b", usage):
            yield (f"variable {name}", "declared but never used")
    for line in module.text.splitlines():
        if _ZONE.search(line) and not re.search(r"description|error_message|condition", line):
            yield ("zones", f"hard-coded zone in {line.strip()!r}: take zones from a variable or data source")
    for name, output in module.outputs.items():
        value = str(output.get("value", ""))
        if _SECRET_WORDS.search(value) and output.get("sensitive") is not True:
            yield (f"output {name}", "looks secret but is not sensitive = true")
    if module.resources and "modules" in module.path.parts:
        names = {name for _, name, _ in module.resources}
        if "this" not in names:
            yield ("resources", "no resource named 'this' (the module's primary resource)")


def check_rules(sources: Path) -> list[Finding]:
    """Findings of the value rules and the tflint-style rules for every folder of terraform/."""
    folders = sorted({tf.parent for tf in sources.rglob("*.tf") if ".terraform" not in tf.parts})
    findings: list[Finding] = []
    for folder in folders:
        module = load_module(folder)
        for type_name, name, body in module.resources:
            for rule in RESOURCE_RULES:
                findings += [Finding(folder, f"{type_name}.{name}", p) for p in rule(module, type_name, name, body)]
        findings += [Finding(folder, where, problem) for where, problem in _module_rules(module)]
    return findings
