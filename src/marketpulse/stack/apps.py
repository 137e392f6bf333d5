"""The base of the platform's own processes (ingest, the stream jobs, alert engine, API, ...): a MarketPulse process
started through its own CLI command with the venv's interpreter, run and checked like the stack's services. The
processes themselves are defined above the stack: `marketpulse.stream.jobs` (the Spark jobs) and
`marketpulse.platform.apps` (the others, and the list `platform up` starts)."""

from __future__ import annotations

import sys
from typing import ClassVar

from marketpulse.stack.install import Progress
from marketpulse.stack.services import Service


class App(Service):
    """A MarketPulse process started through its own CLI command with the venv's interpreter."""

    cli_args: ClassVar[list[str]]

    def install(self, progress: Progress) -> None:
        return None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "marketpulse", *self.cli_args]

    def env(self) -> dict[str, str]:
        # The child builds its own Settings from the environment (cwd is its folder): pin it to this stack.
        return {
            "MARKETPULSE_STACK__ROOT": str(self.settings.stack.root),
            "MARKETPULSE_STACK__NAME": self.settings.stack.name,
            # glibc's default of 8 malloc arenas per core keeps freed memory of many threads resident (py4j,
            # Kafka clients, the Spark JVMs these processes start); two arenas are enough on a laptop.
            "MALLOC_ARENA_MAX": "2",
        }
