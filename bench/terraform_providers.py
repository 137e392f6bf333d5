"""What building the Terraform provider mirror costs: wall time, CPU, peak memory and disk, per provider.

Each provider is built by the project's own code path (marketpulse.deploy.providers.build_provider) into a
throw-away cache. `--cold` points Go at empty module and build caches (GOMODCACHE, GOCACHE) so the numbers
are those of a fresh machine, without touching the caches other builds on this machine use. Run with
`python -m bench.terraform_providers [--cold]`. Prints one row per provider and the ratio of CPU to wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from marketpulse.deploy.paths import TerraformPaths, find_terraform_sources
from marketpulse.deploy.providers import LOCAL_PROVIDERS, build_provider


def _du_mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="empty Go module and build caches (a fresh machine)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mp-tf-bench-"))
    if args.cold:
        os.environ["GOMODCACHE"] = str(scratch / "gomod")
        os.environ["GOCACHE"] = str(scratch / "gocache")
    paths = TerraformPaths(sources=find_terraform_sources(), cache=scratch / "terraform")
    print(f"{'provider':<28} {'wall s':>7} {'cpu s':>7} {'cpu/wall':>8} {'peak RSS MiB':>12} {'binary MiB':>10}")
    try:
        for spec in LOCAL_PROVIDERS:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            binary = build_provider(spec, paths, progress=lambda _: None)
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            # ru_maxrss of children is the largest child so far (KiB on Linux): the compiler or the linker.
            print(
                f"{spec.address + ' ' + spec.version:<28} {wall:7.0f} {cpu:7.0f} {cpu / wall:8.2f} "
                f"{after.ru_maxrss / 1024:12.0f} {binary.stat().st_size / 2**20:10.1f}"
            )
        if args.cold:
            print(
                f"disk: Go module cache {_du_mb(scratch / 'gomod'):.0f} MiB, "
                f"Go build cache {_du_mb(scratch / 'gocache'):.0f} MiB, mirror {_du_mb(paths.mirror):.0f} MiB"
            )
    finally:
        # Go writes its module cache read-only; make it deletable first.
        subprocess.run(["chmod", "-R", "u+w", str(scratch)], check=False)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
