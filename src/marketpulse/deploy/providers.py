"""The providers' filesystem mirror: each provider built from the Go module proxy, once, into .stack/terraform.

No provider registry can be reached from our machines, so `tofu init` installs providers only from a mirror
laid out as <mirror>/<hostname>/<namespace>/<type>/<version>/<os>_<arch>/terraform-provider-<type>_v<version>,
under registry.opentofu.org (where OpenTofu resolves `mongey/kafka`) and registry.terraform.io alike.
Providers whose go.mod carries replace directives cannot be `go install`ed, so every provider is built the same
way: `go mod download` of the exact module version, then `go build -p 1` in a writable copy of its source.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

from marketpulse.deploy.paths import TerraformPaths
from marketpulse.stack.install import Progress, go_build_module, install_lock


@dataclass(frozen=True)
class ProviderSpec:
    """One Terraform provider: its registry address and the Go module version it is built from."""

    namespace: str
    type: str
    version: str
    go_module: str
    go_version: str
    hostname: str = "registry.terraform.io"

    @property
    def address(self) -> str:
        return f"{self.hostname}/{self.namespace}/{self.type}"

    @property
    def binary_name(self) -> str:
        return f"terraform-provider-{self.type}_v{self.version}"


#: What the local environment needs (buckets need none: terraform_data runs the project's CLI). Versions are
#: ones the Go module proxy serves (hashicorp/aws|google|azurerm are refused by the proxy here: docs/decisions/0004).
KAFKA = ProviderSpec("mongey", "kafka", "0.13.1", "github.com/Mongey/terraform-provider-kafka", "v0.13.1")
LOCAL_PROVIDERS = (KAFKA,)
#: Where an unqualified provider source resolves: OpenTofu's default registry host, then Terraform's.
MIRROR_HOSTS = ("registry.opentofu.org", "registry.terraform.io")


def platform_dir() -> str:
    """Terraform's <os>_<arch> name of this machine."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    return f"{platform.system().lower()}_{arch}"


def provider_binary(mirror: Path, spec: ProviderSpec) -> Path:
    """Where the unpacked mirror layout expects the provider's executable."""
    return mirror / spec.hostname / spec.namespace / spec.type / spec.version / platform_dir() / spec.binary_name


def build_provider(spec: ProviderSpec, paths: TerraformPaths, progress: Progress) -> Path:
    """Build one provider into the mirror unless the same version is already there; return the executable.

    The one executable is laid out under every registry host in MIRROR_HOSTS (hard links), so the same
    unqualified source (`mongey/kafka`) resolves from the mirror under OpenTofu and Terraform alike.
    """
    binary = provider_binary(paths.mirror, spec)
    stamp = binary.with_name(".built-from")
    wanted = f"{spec.go_module}@{spec.go_version}"
    if not (binary.is_file() and stamp.is_file() and stamp.read_text() == wanted):
        progress(f"building Terraform provider {spec.address} {spec.version} from {wanted} (first time only)")
        started = time.monotonic()
        build_dir = paths.cache / "build" / f"{spec.type}-{spec.version}"
        go_build_module(spec.go_module, spec.go_version, ".", binary, build_dir, progress)
        stamp.write_text(wanted)
        progress(f"built {spec.address} {spec.version} in {time.monotonic() - started:.0f}s")
    for hostname in MIRROR_HOSTS:
        alias = provider_binary(paths.mirror, replace(spec, hostname=hostname))
        if alias != binary and not (alias.is_file() and alias.samefile(binary)):
            alias.parent.mkdir(parents=True, exist_ok=True)
            alias.unlink(missing_ok=True)
            os.link(binary, alias)
    return binary


def write_cli_config(paths: TerraformPaths) -> Path:
    """The CLI configuration that makes terraform install providers from the mirror and nowhere else."""
    paths.cache.mkdir(parents=True, exist_ok=True)
    text = (
        "# Written by marketpulse.deploy.providers: providers come only from the project's mirror.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{paths.mirror.resolve()}"\n'
        '    include = ["*/*/*"]\n'
        "  }\n"
        "}\n"
        "disable_checkpoint = true\n"
    )
    if not paths.cli_config.is_file() or paths.cli_config.read_text() != text:
        paths.cli_config.write_text(text)
    return paths.cli_config


def ensure_providers(specs: tuple[ProviderSpec, ...], paths: TerraformPaths, progress: Progress) -> list[Path]:
    """Every provider in specs present in the mirror, and the CLI config pointing at it (idempotent)."""
    with install_lock(paths.cache):
        binaries = [build_provider(spec, paths, progress) for spec in specs]
        write_cli_config(paths)
    return binaries
