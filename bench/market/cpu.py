"""CPU (and peak memory) of the benchmark's processes over a stage, grouped by role, sampled with psutil."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil

#: Roles of this process tree: the bench driver (and the job's driver, the same process), Spark's JVM, its workers.
CLIENT_GROUPS = ("driver", "spark-jvm", "spark-py-workers")
#: Processes the bench starts to create load or to listen like a client: never charged to the pipeline.
TOOL_GROUPS = ("load-gen", "client-probe")

Key = tuple[int, float]


@dataclass
class CpuReport:
    wall_s: float
    groups: dict[str, float]
    machine_busy_s: float
    ncpu: int
    #: Highest summed RSS of each group's processes seen at one sample, bytes.
    peak_rss: dict[str, int] = field(default_factory=dict)

    @property
    def pipeline_s(self) -> float:
        return sum(self.groups.get(g, 0.0) for g in CLIENT_GROUPS)

    @property
    def servers_s(self) -> float:
        """CPU of the stack's servers: every group that is neither ours nor a load or probe tool."""
        return sum(s for g, s in self.groups.items() if g not in CLIENT_GROUPS and g not in TOOL_GROUPS)

    @property
    def others_share(self) -> float:
        """Share of the machine's CPU used by processes outside this benchmark (other people's work)."""
        ours = sum(self.groups.values())
        return max(0.0, self.machine_busy_s - ours) / max(self.wall_s * self.ncpu, 1e-9)

    def pipeline_rss_gib(self) -> float:
        """Peak resident memory of this process tree (driver + Spark JVM + Python workers), GiB."""
        return sum(self.peak_rss.get(g, 0) for g in CLIENT_GROUPS) / 2**30


def _busy(times: Any) -> float:
    return float(times.user + times.nice + times.system + times.irq + times.softirq)


class CpuMeter:
    """Samples the CPU time of this process tree and of the stack's servers every 0.5 s, grouped by role.

    A process seen for the first time during the window counts from 0 if it was created in the window. Only the
    processes' own user+system time is summed (children_* would count reaped children twice). Children of
    `tool_pids` (the load generator, the pub/sub probe) are grouped under that tool, never under the driver.
    """

    def __init__(self, server_pids: dict[str, int], tool_pids: dict[int, str] | None = None) -> None:
        self.server_pids = server_pids
        self.tool_pids = tool_pids if tool_pids is not None else {}
        self.me = psutil.Process()
        self._base: dict[Key, tuple[str, float]] = {}
        self._last: dict[Key, tuple[str, float]] = {}
        self._peak_rss: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._wall0 = 0.0
        self._machine0 = 0.0

    def _child_group(self, child: psutil.Process, parent_group: str) -> str:
        if child.pid in self.tool_pids:
            return self.tool_pids[child.pid]
        if parent_group == "driver":
            with contextlib.suppress(psutil.Error):
                return "spark-jvm" if "java" in child.name() else "driver"
        if parent_group == "spark-jvm":
            return "spark-py-workers"
        return parent_group

    def _walk(self, proc: psutil.Process, group: str) -> Iterator[tuple[psutil.Process, str]]:
        with contextlib.suppress(psutil.Error):
            for child in proc.children():
                child_group = self._child_group(child, group)
                yield child, child_group
                yield from self._walk(child, child_group)

    def _processes(self) -> Iterator[tuple[psutil.Process, str]]:
        yield self.me, "driver"
        yield from self._walk(self.me, "driver")
        for name, pid in self.server_pids.items():
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                yield proc, name
                for child in proc.children(recursive=True):
                    yield child, name

    def _snapshot(self) -> tuple[dict[Key, tuple[str, float]], dict[str, int]]:
        snap: dict[Key, tuple[str, float]] = {}
        rss: dict[str, int] = defaultdict(int)
        for proc, group in self._processes():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                snap[(proc.pid, proc.create_time())] = (group, times.user + times.system)
                rss[group] += proc.memory_info().rss
        return snap, rss

    def _merge(self, sample: tuple[dict[Key, tuple[str, float]], dict[str, int]], first: bool) -> None:
        snap, rss = sample
        with self._lock:
            for key, (group, cpu) in snap.items():
                if key not in self._base:
                    new_in_window = not first and key[1] >= self._started_at
                    self._base[key] = (group, 0.0 if new_in_window else cpu)
                self._last[key] = (group, cpu)
            for group, total in rss.items():
                self._peak_rss[group] = max(self._peak_rss[group], total)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._merge(self._snapshot(), first=False)

    def start(self) -> CpuMeter:
        self._started_at = time.time() - 0.05
        self._wall0 = time.monotonic()
        self._machine0 = _busy(psutil.cpu_times())
        self._merge(self._snapshot(), first=True)
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> CpuReport:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._merge(self._snapshot(), first=False)
        wall = time.monotonic() - self._wall0
        machine = _busy(psutil.cpu_times()) - self._machine0
        groups: dict[str, float] = defaultdict(float)
        with self._lock:
            for key, (group, cpu) in self._last.items():
                groups[group] += max(0.0, cpu - self._base[key][1])
            peak = dict(self._peak_rss)
        return CpuReport(wall, dict(groups), machine, psutil.cpu_count() or 1, peak)
