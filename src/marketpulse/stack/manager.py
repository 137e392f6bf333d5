"""`stack up | down | status`: install, start, wait for and stop the local stack's services."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import psutil

from marketpulse.config import Settings
from marketpulse.errors import ServiceStartError, StackError
from marketpulse.stack.install import Progress, install_lock
from marketpulse.stack.process import (
    describe_port_owner,
    find_process,
    port_in_use,
    tail,
)
from marketpulse.stack.services import Service, all_services


@dataclass(frozen=True)
class ServiceStatus:
    """One row of the status table."""

    name: str
    endpoint: str
    ports: str
    pid: int | None
    healthy: bool
    detail: str
    rss_mb: float | None


def _quiet(_: str) -> None:
    return None


class Stack:
    """The local stack of one Settings instance (its ports, folders and instance name)."""

    def __init__(self, settings: Settings, progress: Progress = _quiet, services: list[Service] | None = None) -> None:
        self.settings = settings
        self.progress = progress
        self.services = services if services is not None else all_services(settings)

    def select(self, names: list[str] | None) -> list[Service]:
        """The named services (all when names is empty), or a clear error for an unknown one."""
        if not names:
            return self.services
        known = {service.name: service for service in self.services}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise StackError(f"unknown service {', '.join(unknown)}; known: {', '.join(known)}")
        return [known[name] for name in names]

    def install(self, names: list[str] | None = None) -> None:
        """Install every missing program and jar into the cache; a no-op when all are there."""
        with install_lock(self.settings.stack.cache_dir):
            for service in self.select(names):
                service.install(self.progress)

    def up(self, names: list[str] | None = None) -> list[ServiceStatus]:
        """Start what is not running, wait until every service answers, and return the status table.

        On any failure the services this call started are stopped again, so nothing is left orphaned.
        """
        services = self.select(names)
        self.install(names)
        to_start = [s for s in services if s.runs_process and find_process(s.pid_path) is None]
        self._refuse_taken_ports(to_start)
        started: list[Service] = []
        try:
            for service in to_start:
                self.progress(f"starting {service.name}")
                service.prepare()
                service.start()
                started.append(service)
            self._wait_ready(services)
        except BaseException:
            for service in reversed(started):
                self._stop(service)
            raise
        return self.status(names)

    def _refuse_taken_ports(self, services: list[Service]) -> None:
        problems = [
            f"{service.name} needs port {port} ({role}), but it is already used by {describe_port_owner(port)}"
            for service in services
            for role, port in service.ports().items()
            if port_in_use(self.settings.stack.host, port)
        ]
        if problems:
            raise StackError(
                "Cannot start the stack: " + "; ".join(problems) + ". Stop that process, or move this "
                "stack to free ports with MARKETPULSE_<SERVICE>__PORT (see .env.example). Nothing was started."
            )

    def _wait_ready(self, services: list[Service]) -> None:
        deadline = time.monotonic() + self.settings.stack.startup_timeout_s
        pending = list(services)
        last_error: dict[str, str] = {}
        while pending:
            for service in list(pending):
                if service.runs_process and find_process(service.pid_path) is None:
                    raise ServiceStartError(self._failure_paragraph(service, "exited during start-up"))
                try:
                    service.check()
                except Exception as exc:
                    last_error[service.name] = f"{type(exc).__name__}: {exc}"
                    continue
                service.after_ready()
                self.progress(f"{service.name} ready")
                pending.remove(service)
            if pending and time.monotonic() > deadline:
                service = pending[0]
                reason = (
                    f"did not answer within {self.settings.stack.startup_timeout_s:.0f}s "
                    f"(last probe: {last_error.get(service.name, 'none')})"
                )
                raise ServiceStartError(self._failure_paragraph(service, reason))
            if pending:
                time.sleep(0.5)

    def _failure_paragraph(self, service: Service, reason: str) -> str:
        log_tail = tail(service.log_path, 20) or "(the log is empty)"
        return (
            f"{service.name} {reason}. Its log is {service.log_path}; last lines:\n{log_tail}\n"
            f"Every service this command started has been stopped again."
        )

    def down(self, names: list[str] | None = None) -> list[str]:
        """Stop the services this stack instance started (found by their pid files), newest first."""
        stopped = []
        for service in reversed(self.select(names)):
            if service.runs_process and self._stop(service):
                stopped.append(service.name)
        return stopped

    def _stop(self, service: Service) -> bool:
        proc = find_process(service.pid_path)
        if proc is not None:
            self.progress(f"stopping {service.name} (pid {proc.pid})")
        service.stop()
        return proc is not None

    def status(self, names: list[str] | None = None) -> list[ServiceStatus]:
        """Probe every service for real and report pid, health and memory."""
        return [self._status_of(service) for service in self.select(names)]

    def _status_of(self, service: Service) -> ServiceStatus:
        proc = find_process(service.pid_path) if service.runs_process else None
        ports = ", ".join(f"{role} {port}" for role, port in service.ports().items()) or "-"
        if service.runs_process and proc is None:
            return ServiceStatus(service.name, service.endpoint(), ports, None, False, "not running", None)
        try:
            detail, healthy = service.check(), True
        except Exception as exc:
            detail, healthy = f"unhealthy: {type(exc).__name__}: {exc}", False
        return ServiceStatus(
            service.name,
            service.endpoint(),
            ports,
            proc.pid if proc else None,
            healthy,
            detail,
            _rss_mb(proc),
        )


def _rss_mb(proc: psutil.Process | None) -> float | None:
    """Resident memory of a process and its children, MiB."""
    if proc is None:
        return None
    with contextlib.suppress(psutil.Error):
        family = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in family) / 2**20
    return None
