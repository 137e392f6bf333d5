"""The local stack as layers started in order: the core services, then Airflow (which needs their PostgreSQL).

`Stack.up` starts a group's processes before it waits for any of them, so Airflow, which migrates its
database in PostgreSQL before starting, is a second layer that starts once the first answers. The test
fixtures keep using the core `Stack` alone: Airflow is heavy, and only its own tests start it.
"""

from __future__ import annotations

from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.orchestration.airflow import airflow_services
from marketpulse.stack.install import Progress
from marketpulse.stack.manager import ServiceStatus, Stack
from marketpulse.stack.services import Service


def _quiet(_: str) -> None:
    return None


class LayeredStack:
    """Stacks acting in order (down in reverse); service names are looked up across all of them."""

    def __init__(self, layers: list[Stack]) -> None:
        self.layers = layers

    def _split(self, names: list[str] | None) -> list[tuple[Stack, list[str] | None]]:
        if not names:
            return [(layer, None) for layer in self.layers]
        known = {service.name: layer for layer in self.layers for service in layer.services}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise StackError(f"unknown service {', '.join(unknown)}; known: {', '.join(known)}")
        return [
            (layer, [name for name in names if known[name] is layer])
            for layer in self.layers
            if any(known[name] is layer for name in names)
        ]

    def select(self, names: list[str]) -> list[Service]:
        return [service for layer, chosen in self._split(names) for service in layer.select(chosen)]

    def install(self, names: list[str] | None = None) -> None:
        for layer, chosen in self._split(names):
            layer.install(chosen)

    def up(self, names: list[str] | None = None) -> list[ServiceStatus]:
        rows: list[ServiceStatus] = []
        for layer, chosen in self._split(names):
            rows += layer.up(chosen)
        return rows

    def down(self, names: list[str] | None = None) -> list[str]:
        stopped: list[str] = []
        for layer, chosen in reversed(self._split(names)):
            stopped += layer.down(chosen)
        return stopped

    def status(self, names: list[str] | None = None) -> list[ServiceStatus]:
        return [row for layer, chosen in self._split(names) for row in layer.status(chosen)]


def full_stack(settings: Settings, progress: Progress = _quiet) -> LayeredStack:
    """The core services, then Airflow's API server, scheduler and DAG processor."""
    return LayeredStack([Stack(settings, progress), Stack(settings, progress, services=airflow_services(settings))])
