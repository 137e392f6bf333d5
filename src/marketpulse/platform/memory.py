"""Resident memory of a running `make run` platform, every process it started, grouped by role.

Used by `marketpulse platform memory` and by the market benchmark (bench/market), so both report the same figures.

Processes are found through the pid files the stack and the platform write under `<stack root>/<instance>`
(services, Airflow, the platform's apps) with all their descendants (a Spark driver's JVM and Python workers,
Airflow's workers and task runners, PostgreSQL's backends), then by a scan for any other process whose command
line or working directory lies under that folder.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from rich.table import Table

from marketpulse.config import Settings
from marketpulse.orchestration.airflow import airflow_services
from marketpulse.platform.apps import all_apps
from marketpulse.stack.process import find_process
from marketpulse.stack.services import all_services

if TYPE_CHECKING:
    from rich.table import Table

#: Service or app name -> role in the report (names not listed are their own role).
ROLE_OF = {
    "minio": "object store",
    "seaweedfs": "object store",
    "s3": "object store",
    "localstack": "object store",
    "market-job": "market job",
    "sentiment-job": "sentiment job",
    "text-replay": "text replay",
}
#: What each role's processes hold, for the report.
ROLE_HOLDS = {
    "kafka": "the broker JVM (KRaft broker + controller, page cache not counted)",
    "cassandra": "the Cassandra JVM (heap + off-heap memtables, key cache)",
    "redis": "redis-server: latest state per symbol, pub/sub buffers, heartbeats",
    "postgres": "postmaster + one backend per connection (shared buffers appear in each backend's RSS; see PSS)",
    "object store": "the S3-compatible server (lake, models, checkpoints)",
    "spark": "nothing of its own with a local master (the jobs' JVMs are counted under each job)",
    "airflow": "API server, scheduler, DAG processor, LocalExecutor workers and the runner of any running task",
    "market job": "Python driver (live state, stores' clients, served model; torch only for a torch family) + JVM",
    "sentiment job": "Python driver with the ONNX model (no torch) + its Spark JVM; no Python workers",
    "ingest": "the replay ingest (history frame + Kafka producer)",
    "text replay": "the text replay ingest",
    "api": "uvicorn workers: REST and WebSocket fan-out",
    "alerts": "the alert engine (rules, webhooks)",
    "dashboard": "the Dash app",
    "scorecard": "the scorecard updater",
}


def role_of(service: str) -> str:
    if service.startswith("airflow"):
        return "airflow"
    return ROLE_OF.get(service, service)


def role_from_path(text: str, run_dir: Path) -> str | None:
    """Role of a process whose command line or cwd mentions `<run_dir>/<service>/...`; None if it does not."""
    match = re.search(re.escape(str(run_dir)) + r"/([A-Za-z0-9_.-]+)", text)
    return role_of(match.group(1)) if match else None


def jvm_heap(cmdline: Iterable[str]) -> str | None:
    """The -Xmx of a JVM command line (the last one wins, as in the JVM), e.g. '512m'."""
    heaps = [arg[4:] for arg in cmdline if arg.startswith("-Xmx")]
    return heaps[-1] if heaps else None


@dataclass
class ProcessMemory:
    role: str
    pid: int
    name: str
    rss: int
    pss: int | None
    heap: str | None = None


@dataclass
class RoleMemory:
    role: str
    processes: list[ProcessMemory] = field(default_factory=list)

    @property
    def rss_gib(self) -> float:
        return sum(p.rss for p in self.processes) / 2**30

    @property
    def pss_gib(self) -> float | None:
        if any(p.pss is None for p in self.processes):
            return None
        return sum(p.pss or 0 for p in self.processes) / 2**30

    def detail(self, top: int = 3) -> str:
        """The largest processes, e.g. 'java 1.10 GiB (-Xmx1g), python 0.35 GiB'."""
        ranked = sorted(self.processes, key=lambda p: -p.rss)[:top]
        parts = [f"{p.name} {p.rss / 2**30:.2f} GiB" + (f" (-Xmx{p.heap})" if p.heap else "") for p in ranked]
        more = len(self.processes) - len(ranked)
        return ", ".join(parts) + (f", +{more} smaller" if more > 0 else "")


@dataclass
class PlatformMemory:
    roles: dict[str, RoleMemory]
    #: Roles of the platform's apps (`platform.apps.all_apps`): they only run under `make run`, not `stack up`.
    app_roles: frozenset[str]

    @property
    def running(self) -> bool:
        """Whether a `make run` platform runs: at least one of its apps is alive."""
        return any(role in self.roles for role in self.app_roles)

    @property
    def rss_gib(self) -> float | None:
        return sum(r.rss_gib for r in self.roles.values()) if self.running else None


def _measure(proc: psutil.Process, role: str) -> ProcessMemory | None:
    with contextlib.suppress(psutil.Error):
        with proc.oneshot():
            rss, name, cmdline = proc.memory_info().rss, proc.name(), proc.cmdline()
        pss = None
        with contextlib.suppress(psutil.Error, AttributeError):
            pss = int(proc.memory_full_info().pss)
        return ProcessMemory(role, proc.pid, name, rss, pss, jvm_heap(cmdline))
    return None


def _pid_file_families(settings: Settings) -> Iterator[tuple[str, psutil.Process]]:
    for service in [*all_services(settings), *airflow_services(settings), *all_apps(settings)]:
        proc = find_process(service.pid_path) if service.runs_process else None
        if proc is None:
            continue
        yield role_of(service.name), proc
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                yield role_of(service.name), child


def _strays(run_dir: Path, seen: set[int]) -> Iterator[tuple[str, psutil.Process]]:
    """Processes not under a pid file whose command line or cwd lies in the instance's folder."""
    for proc in psutil.process_iter():
        if proc.pid in seen:
            continue
        with contextlib.suppress(psutil.Error):
            role = role_from_path(" ".join(proc.cmdline()), run_dir) or role_from_path(proc.cwd() + "/", run_dir)
            if role is not None:
                yield role, proc


def platform_memory(settings: Settings) -> PlatformMemory:
    """RSS (and PSS) of every process of this checkout's platform instance, grouped by role."""
    roles: dict[str, RoleMemory] = {}
    seen: set[int] = {psutil.Process().pid}
    found = list(_pid_file_families(settings))
    seen |= {proc.pid for _, proc in found}
    for role, proc in [*found, *_strays(settings.stack.run_dir, seen)]:
        measured = _measure(proc, role)
        if measured is not None:
            roles.setdefault(role, RoleMemory(role)).processes.append(measured)
    return PlatformMemory(roles, frozenset(role_of(app.name) for app in all_apps(settings)))


def memory_table(memory: PlatformMemory) -> Table:
    """The per-role table (largest role first) with the total row, as `marketpulse platform memory` prints it."""
    table = Table(title=f"Resident memory, {'platform running' if memory.running else 'no platform app running'}")
    for column in ("role", "procs", "RSS GiB", "PSS GiB", "largest processes", "what it holds"):
        table.add_column(column, justify="right" if column in ("procs", "RSS GiB", "PSS GiB") else "left")
    ranked = sorted(memory.roles.values(), key=lambda r: -r.rss_gib)
    for role in ranked:
        pss = role.pss_gib
        table.add_row(
            role.role,
            str(len(role.processes)),
            f"{role.rss_gib:.2f}",
            "-" if pss is None else f"{pss:.2f}",
            role.detail(),
            ROLE_HOLDS.get(role.role, ""),
        )
    pss_values = [role.pss_gib for role in ranked]
    total_pss = "-" if None in pss_values else f"{sum(p or 0.0 for p in pss_values):.2f}"
    rss = sum(role.rss_gib for role in ranked)
    table.add_row("total", str(sum(len(r.processes) for r in ranked)), f"{rss:.2f}", total_pss, "", "", style="bold")
    return table
