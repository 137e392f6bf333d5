"""The IaC CLI (OpenTofu, built by the project; Terraform only by explicit choice) and a runner using the mirror."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.stack.install import Progress, ensure_opentofu

#: The envs declare required_version >= 1.9 (for_each on import-free modules, provider-defined functions unused).
MIN_VERSION = (1, 9)
#: Which CLI runs terraform/: unset or "tofu" = OpenTofu (MPL-2.0) built from the Go module proxy into the
#: stack's cache; "terraform" = the `terraform` on PATH, the user's own (BUSL-1.1 from 1.6.0), opt-in only;
#: anything else = the path of a binary to use.
CLI_ENV = "MARKETPULSE_INFRA__CLI"


def terraform_version(binary: Path) -> tuple[int, int, int] | None:
    """(major, minor, patch) that `binary version -json` reports (tofu keeps terraform's key), or None."""
    try:
        done = subprocess.run(
            [str(binary), "version", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull},
        )
    except OSError:
        return None
    match = re.search(r'"terraform_version":\s*"(\d+)\.(\d+)\.(\d+)', done.stdout)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _checked(binary: Path, why: str) -> Path:
    version = terraform_version(binary)
    if version is None or version[:2] < MIN_VERSION:
        raise TerraformError(
            f"{binary} ({why}) is not tofu/terraform >= {'.'.join(map(str, MIN_VERSION))} (reports {version})"
        )
    return binary


def ensure_cli(paths: TerraformPaths, progress: Progress, binary: Path | None = None) -> Path:
    """The IaC CLI: `binary` if given, else what MARKETPULSE_INFRA__CLI names, else OpenTofu built into the cache."""
    if binary is not None:
        return _checked(binary, "--terraform")
    choice = os.environ.get(CLI_ENV, "").strip() or "tofu"
    if choice == "tofu":
        return _checked(ensure_opentofu(paths.tool_cache, progress), "built by the project")
    if choice == "terraform":
        on_path = shutil.which("terraform")
        if not on_path:
            raise TerraformError(f"{CLI_ENV}=terraform but no terraform is on PATH; unset it to use OpenTofu")
        progress(f"using {on_path} ({CLI_ENV}=terraform: your own Terraform, BUSL-1.1 from 1.6.0)")
        return _checked(Path(on_path), f"{CLI_ENV}=terraform")
    if not Path(choice).is_file():
        raise TerraformError(f"{CLI_ENV}={choice!r}: expected tofu, terraform or the path of a binary")
    return _checked(Path(choice), CLI_ENV)


@dataclass(frozen=True)
class RunResult:
    """Exit code and output of one tofu/terraform command."""

    returncode: int
    stdout: str
    stderr: str


class Terraform:
    """Runs the IaC CLI (tofu, or terraform by choice) in one environment root, with the project's CLI config
    and a per-instance data folder."""

    def __init__(
        self,
        binary: Path,
        paths: TerraformPaths,
        root: Path,
        work_dir: Path | None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """work_dir holds TF_DATA_DIR; None keeps the root's own .terraform (a cloud root someone initialised).

        extra_env: variables for terraform and the commands its provisioners run (secrets kept out of the state).
        """
        self.binary = binary
        self.paths = paths
        self.root = root
        self.work_dir = work_dir
        self.extra_env = dict(extra_env or {})

    def env(self) -> dict[str, str]:
        env = {
            "TF_CLI_CONFIG_FILE": str(self.paths.cli_config.resolve()),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            **self.extra_env,
        }
        if self.work_dir is not None:
            env["TF_DATA_DIR"] = str((self.work_dir / ".terraform").resolve())
        return env

    def run(self, args: Sequence[str], *, ok_codes: tuple[int, ...] = (0,), timeout_s: float = 900) -> RunResult:
        """Run `<cli> <args>` in the root; raise TerraformError with its output unless the exit code is ok."""
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(self.binary), f"-chdir={self.root}", *args]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
                env={**os.environ, **self.env()},
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise TerraformError(
                f"{self.binary.name} {' '.join(args)} timed out after {timeout_s:.0f}s in {self.root}"
            ) from exc
        if done.returncode not in ok_codes:
            output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-40:])
            raise TerraformError(
                f"{self.binary.name} {' '.join(args)} failed (exit {done.returncode}) in {self.root}:\n{output}"
            )
        return RunResult(done.returncode, done.stdout, done.stderr)

    def init(self, backend_config: Mapping[str, str] | None = None, *, backend: bool = True) -> None:
        """`init` from the mirror; -upgrade refreshes the lock file when a provider was rebuilt."""
        args = ["init", "-no-color", "-upgrade"]
        if not backend:
            args.append("-backend=false")
        args += [f"-backend-config={key}={value}" for key, value in (backend_config or {}).items()]
        self.run(args)

    def outputs(self) -> dict[str, Any]:
        """`output -json` as name => value (sensitive values included)."""
        raw = json.loads(self.run(["output", "-json", "-no-color"]).stdout or "{}")
        return {name: entry["value"] for name, entry in raw.items()}
