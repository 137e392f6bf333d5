"""`terraform fmt -check`, `validate` and `terraform test` over terraform/, as far as the mirror's providers allow.

fmt needs no providers and covers every module and environment. validate and the plan-level tests need
each provider's schema, so they run where the providers are in the mirror: the local environment and the
modules it uses. The cloud providers cannot be built here (docs/decisions/0004-terraform.md); their
roots are covered by fmt and the static HCL checks in tests/unit/test_terraform_static.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marketpulse.deploy.paths import TerraformPaths
from marketpulse.deploy.providers import LOCAL_PROVIDERS, ensure_providers
from marketpulse.deploy.terraform import Terraform, ensure_terraform
from marketpulse.stack.install import Progress

#: Folders whose providers are all in the mirror: validated and (for the env) plan-tested.
LOCAL_ROOTS = ("envs/local", "modules/catalog", "modules/object_store/s3_compatible", "modules/streaming_bus/kafka")


@dataclass(frozen=True)
class CheckResult:
    """One check on one folder of terraform/."""

    check: str
    target: str
    output: str


def run_checks(paths: TerraformPaths, progress: Progress, binary: Path | None = None) -> list[CheckResult]:
    """fmt -check everything, then validate (and `terraform test`) each folder in LOCAL_ROOTS; raise on failure."""
    terraform_binary = ensure_terraform(paths, progress, binary)
    ensure_providers(LOCAL_PROVIDERS, paths, progress)
    results = []
    everything = Terraform(terraform_binary, paths, paths.sources, paths.cache / "checks" / "fmt")
    progress("terraform fmt -check -recursive terraform/")
    fmt = everything.run(["fmt", "-check", "-recursive", "-diff", "-no-color"])
    results.append(CheckResult("fmt", "terraform/ (all modules and environments)", fmt.stdout))
    for relative in LOCAL_ROOTS:
        runner = Terraform(
            terraform_binary, paths, paths.sources / relative, paths.cache / "checks" / relative.replace("/", "-")
        )
        runner.init(backend=False)
        progress(f"terraform validate {relative}")
        results.append(CheckResult("validate", relative, runner.run(["validate", "-no-color"]).stdout))
        if (paths.sources / relative / "tests").is_dir():
            progress(f"terraform test {relative}")
            results.append(CheckResult("test", relative, runner.run(["test", "-no-color"]).stdout))
    return results
