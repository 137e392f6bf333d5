"""The providers' filesystem mirror: each provider built from the Go module proxy, once, into .stack/terraform.

registry.terraform.io cannot be reached from our machines, so `terraform init` installs providers only from a
mirror laid out as <mirror>/<hostname>/<namespace>/<type>/<version>/<os>_<arch>/terraform-provider-<type>_v<version>.
Providers whose go.mod carries replace directives cannot be `go install`ed, so every provider is built the same
way: `go mod download` of the exact module version, then `go build -p 1` in a writable copy of its source.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.stack.install import Progress, apt_install, install_lock
from marketpulse.stack.process import run_checked


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


def platform_dir() -> str:
    """Terraform's <os>_<arch> name of this machine."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    return f"{platform.system().lower()}_{arch}"


def provider_binary(mirror: Path, spec: ProviderSpec) -> Path:
    """Where the unpacked mirror layout expects the provider's executable."""
    return mirror / spec.hostname / spec.namespace / spec.type / spec.version / platform_dir() / spec.binary_name


def find_go(progress: Progress) -> str:
    """The go tool (PATH, then /usr/local/go), installed from Debian when missing."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go:
        return go
    apt_install(["golang-go"], progress)
    return shutil.which("go") or "go"


def _module_source(go: str, spec: ProviderSpec) -> Path:
    """Download module@version into Go's module cache and return its (read-only) source folder."""
    out = run_checked(
        [go, "mod", "download", "-json", f"{spec.go_module}@{spec.go_version}"],
        what=f"go mod download {spec.go_module}@{spec.go_version}",
        timeout_s=1800,
    )
    info = json.loads(out)
    if "Dir" not in info:
        raise TerraformError(
            f"the Go module proxy did not serve {spec.go_module}@{spec.go_version}: {info.get('Error')}"
        )
    return Path(info["Dir"])


def build_provider(spec: ProviderSpec, paths: TerraformPaths, progress: Progress) -> Path:
    """Build one provider into the mirror unless the same version is already there; return the executable."""
    binary = provider_binary(paths.mirror, spec)
    stamp = binary.with_name(".built-from")
    wanted = f"{spec.go_module}@{spec.go_version}"
    if binary.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return binary
    go = find_go(progress)
    progress(f"building Terraform provider {spec.address} {spec.version} from {wanted} (first time only)")
    started = time.monotonic()
    source = _module_source(go, spec)
    build_dir = paths.cache / "build" / f"{spec.type}-{spec.version}"
    shutil.rmtree(build_dir, ignore_errors=True)
    # The module cache is read-only and `go build` must run inside the module for its replace directives to apply.
    shutil.copytree(source, build_dir)
    for folder, _, files in os.walk(build_dir):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder) / name, 0o644)
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(binary.name + ".partial")
    run_checked(
        # nice + one package at a time: the machine's two cores are shared with the stack and the tests.
        ["nice", "-n", "10", go, "build", "-p", "1", "-trimpath", "-ldflags=-s -w", "-o", str(partial), "."],
        what=f"go build of {spec.address}",
        cwd=build_dir,
        env={"GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "0"},
        timeout_s=7200,
    )
    partial.rename(binary)
    stamp.write_text(wanted)
    shutil.rmtree(build_dir, ignore_errors=True)
    progress(f"built {spec.address} {spec.version} in {time.monotonic() - started:.0f}s")
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
