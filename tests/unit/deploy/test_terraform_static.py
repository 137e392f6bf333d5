"""Static checks of terraform/ that need no provider binaries: layout, variable rules, module wiring, outputs.

`terraform validate` needs each provider's schema; the cloud providers cannot be built here (see
docs/decisions/0004-terraform.md), so these checks are what guards the aws/gcp/azure roots' wiring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

from marketpulse.deploy.envfile import check_setting_name
from marketpulse.deploy.paths import ENVIRONMENTS, find_terraform_sources

TERRAFORM = find_terraform_sources()
CAPABILITIES = (
    "streaming_bus",
    "spark_runtime",
    "online_store",
    "history_store",
    "object_store",
    "airflow",
    "services",
)
CLOUDS = ("aws", "gcp", "azure")
_META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on", "__is_block__", "__comments__"}


def _name(key: str) -> str:
    return key.strip('"')


@dataclass
class Config:
    """The blocks of one Terraform module folder, merged across its .tf files."""

    path: Path
    text: str = ""
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    providers: list[str] = field(default_factory=list)
    required_providers: dict[str, str] = field(default_factory=dict)
    backend: list[str] = field(default_factory=list)


def load(path: Path) -> Config:
    config = Config(path)
    for tf in sorted(path.glob("*.tf")):
        config.text += tf.read_text()
        with tf.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("variable", []):
            config.variables.update({_name(k): v for k, v in block.items()})
        for block in parsed.get("output", []):
            config.outputs.update({_name(k): v for k, v in block.items()})
        for block in parsed.get("module", []):
            config.modules.update({_name(k): v for k, v in block.items()})
        for block in parsed.get("locals", []):
            config.locals.update(block)
        for block in parsed.get("provider", []):
            config.providers += [_name(k) for k in block]
        for block in parsed.get("terraform", []):
            for required in block.get("required_providers", []):
                for local_name, spec in required.items():
                    if isinstance(spec, dict):
                        config.required_providers[local_name] = spec["source"].strip('"').lower()
            for backend in block.get("backend", []):
                config.backend += [_name(k) for k in backend]
    return config


MODULE_DIRS = sorted({tf.parent for tf in (TERRAFORM / "modules").rglob("*.tf")})
ENV_DIRS = [TERRAFORM / "envs" / env for env in ENVIRONMENTS]


def _id(path: Path) -> str:
    return str(path.relative_to(TERRAFORM))


# Spark and Airflow run on Kubernetes in every cloud (docs/decisions/0010): spark_runtime/<cloud> is the
# cluster, spark_runtime/kubernetes and airflow/kubernetes what runs in it, the same for all three.
SHARED = {"airflow": "kubernetes"}


@pytest.mark.parametrize("capability", [*CAPABILITIES, "network", "identity", "secrets", "reporting_db"])
@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_capability_has_a_module_per_cloud(capability: str, cloud: str) -> None:
    implementation = SHARED.get(capability, cloud)
    assert (TERRAFORM / "modules" / capability / implementation / "main.tf").is_file()


@pytest.mark.parametrize("module_dir", MODULE_DIRS, ids=_id)
def test_module_layout_and_variable_rules(module_dir: Path) -> None:
    assert {p.name for p in module_dir.glob("*.tf")} >= {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}
    config = load(module_dir)
    assert config.providers == [], "modules take providers from the env root"
    assert config.backend == []
    assert config.variables, "a module without inputs cannot be reused"
    for name, variable in config.variables.items():
        assert "type" in variable and "description" in variable, f"variable {name} needs a type and a description"
        if variable["type"] != "bool":  # a bool has no invalid values
            assert variable.get("validation"), f"variable {name} needs a validation block"
    for name, output in config.outputs.items():
        assert "description" in output, f"output {name} needs a description"


@pytest.mark.parametrize("root", MODULE_DIRS + ENV_DIRS, ids=_id)
def test_references_name_declared_variables_and_locals(root: Path) -> None:
    config = load(root)
    used_vars = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)", config.text))
    assert used_vars <= set(config.variables), f"undeclared variables: {used_vars - set(config.variables)}"
    used_locals = set(re.findall(r"\blocal\.([A-Za-z_][A-Za-z0-9_-]*)", config.text))
    assert used_locals <= set(config.locals), f"undeclared locals: {used_locals - set(config.locals)}"


@pytest.mark.parametrize("env_dir", ENV_DIRS, ids=_id)
def test_env_root_wires_its_modules(env_dir: Path) -> None:
    env = load(env_dir)
    assert env.backend, "an env root declares its backend"
    assert env.modules
    for name, call in env.modules.items():
        source = (env_dir / call["source"].strip('"')).resolve()
        module = load(source)
        passed = set(call) - _META_ARGS
        assert passed <= set(module.variables), f"module.{name} passes unknown inputs {passed - set(module.variables)}"
        required = {v for v, spec in module.variables.items() if "default" not in spec}
        assert required <= passed, f"module.{name} misses required inputs {required - passed}"
        # Every provider a module needs is declared (with the same source) by the root that calls it.
        for local_name, provider_source in module.required_providers.items():
            assert env.required_providers.get(local_name) == provider_source, f"{name} needs {provider_source}"
    for module_name, output in re.findall(r"\bmodule\.([a-z_]+)(?:\[0\])?\.([a-z0-9_]+)", env.text):
        assert module_name in env.modules, f"module.{module_name} is not declared"
        source = (env_dir / env.modules[module_name]["source"].strip('"')).resolve()
        assert output in load(source).outputs, f"module.{module_name} has no output {output}"


@pytest.mark.parametrize("env_dir", ENV_DIRS, ids=_id)
def test_env_outputs_name_real_settings(env_dir: Path) -> None:
    env = load(env_dir)
    assert {"app_env", "app_secrets"} <= set(env.outputs)
    assert env.outputs["app_secrets"].get("sensitive") is True
    for output in ("app_env", "app_secrets"):
        value = env.outputs[output]["value"]
        if isinstance(value, str):  # a reference such as ${local.app_env}
            value = env.locals[re.fullmatch(r"\$\{local\.(\w+)\}", value)[1]]  # type: ignore[index]
        assert isinstance(value, dict)
        for name in set(value) - _META_ARGS:
            check_setting_name(name)
    assert "MARKETPULSE_ENVIRONMENT" in (env.locals.get("app_env") or env.outputs["app_env"]["value"]), (
        "the env file says which environment it is"
    )
