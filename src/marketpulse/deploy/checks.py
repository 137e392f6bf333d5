"""`fmt -check`, `validate` and `test` (OpenTofu's, or terraform's by choice) over terraform/, as far as the
mirror's providers allow.

fmt needs no providers and covers every module and environment. validate and the plan-level tests need
each provider's schema, so they run where the providers are in the mirror: the local environment and the
modules it uses. The cloud providers cannot be built here (docs/decisions/0004-terraform.md); their
roots are covered by fmt, the static HCL checks in tests/unit/deploy/test_terraform_static.py, and the offline rules
and licence check below (docs/decisions/0010-cloud-deployment.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.licences import (
    Component,
    licence_problems,
    npm_components,
    terraform_cli_licence,
    terraform_components,
)
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.deploy.providers import LOCAL_PROVIDERS, ensure_providers
from marketpulse.deploy.rules import check_rules
from marketpulse.deploy.terraform import Terraform, ensure_cli, terraform_version
from marketpulse.stack.install import Progress

#: Folders whose providers are all in the mirror: validated and (for the env) plan-tested.
LOCAL_ROOTS = (
    "envs/local",
    "modules/catalog",
    "modules/streaming_bus/retention",
    "modules/object_store/s3_compatible",
    "modules/streaming_bus/kafka",
)


@dataclass(frozen=True)
class CheckResult:
    """One check on one folder of terraform/."""

    check: str
    target: str
    output: str


def run_checks(paths: TerraformPaths, progress: Progress, binary: Path | None = None) -> list[CheckResult]:
    """fmt -check everything, then validate (and `terraform test`) each folder in LOCAL_ROOTS; raise on failure."""
    terraform_binary = ensure_cli(paths, progress, binary)
    cli = terraform_binary.name
    ensure_providers(LOCAL_PROVIDERS, paths, progress)
    results = []
    everything = Terraform(terraform_binary, paths, paths.sources, paths.cache / "checks" / "fmt")
    progress(f"{cli} fmt -check -recursive terraform/")
    fmt = everything.run(["fmt", "-check", "-recursive", "-diff", "-no-color"])
    results.append(CheckResult("fmt", "terraform/ (all modules and environments)", fmt.stdout))
    results += static_checks(paths, terraform_binary, progress)
    for relative in LOCAL_ROOTS:
        runner = Terraform(
            terraform_binary, paths, paths.sources / relative, paths.cache / "checks" / relative.replace("/", "-")
        )
        runner.init(backend=False)
        progress(f"{cli} validate {relative}")
        results.append(CheckResult("validate", relative, runner.run(["validate", "-no-color"]).stdout))
        if (paths.sources / relative / "tests").is_dir():
            progress(f"{cli} test {relative}")
            results.append(CheckResult("test", relative, runner.run(["test", "-no-color"]).stdout))
    return results


def cli_component(paths: TerraformPaths, binary: Path) -> Component | None:
    """The CLI as a component the build pulls when the project installed it (OpenTofu in the tool cache).

    A terraform the user chose (MARKETPULSE_INFRA__CLI=terraform, --terraform) is their own tool, not pulled by
    the build; its licence is reported, not judged.
    """
    if paths.tool_cache.resolve() not in binary.resolve().parents:
        return None
    version = terraform_version(binary)
    label = f"{binary.name} {'.'.join(map(str, version or ()))} (installed by the build)"
    return Component("binary", label, terraform_cli_licence(binary.name, version), str(binary.parent))


def static_checks(paths: TerraformPaths, terraform_binary: Path, progress: Progress) -> list[CheckResult]:
    """Value rules, tflint-style rules and the licence check; raise TerraformError listing every problem."""
    progress("value and tflint-style rules over terraform/")
    problems = [str(finding) for finding in check_rules(paths.sources)]
    progress("licences of providers, modules, charts, bindings and binaries")
    components = terraform_components(paths.sources) + npm_components(paths.cache / "cdktf")
    pulled = cli_component(paths, terraform_binary)
    if pulled is not None:
        components.append(pulled)
    else:
        version = terraform_version(terraform_binary)
        licence = terraform_cli_licence(terraform_binary.name, version)
        progress(f"{terraform_binary} is the user's own ({licence}); not pulled by the build")
    problems += licence_problems(components)
    if problems:
        raise TerraformError("terraform/ breaks the offline rules or the licence policy:\n" + "\n".join(problems))
    summary = ", ".join(sorted({f"{c.kind} {c.licence}" for c in components}))
    return [
        CheckResult("rules", "terraform/ (values, naming, pins, zones, secrets, deletion protection)", ""),
        CheckResult("licences", f"{len(components)} components", summary),
    ]
