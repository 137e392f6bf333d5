"""What every paced source shares: stop() from any thread, and waits that stop() cuts short."""

from __future__ import annotations

import threading
import time


class Stoppable:
    """Base of the sources that yield on a schedule (synthetic, replayed ticks and texts) until stopped."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    def stop(self) -> None:
        """End the iteration before its next item (safe from a signal handler or another thread); also cuts a sleep."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """Whether stop() was called."""
        return self._stopped.is_set()

    def _wait_until(self, due: float) -> None:
        """Sleep until time.monotonic() reaches `due`, or stop(). Schedule `due` against the start (not the previous
        item), so rounding and slow sends don't add up."""
        ahead = due - time.monotonic()
        if ahead > 0:
            self._stopped.wait(ahead)
