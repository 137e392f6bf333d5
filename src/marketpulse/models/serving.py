"""The production price model as the stream sees it: loaded from the registry, hot-reloaded on promotion."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from marketpulse.config import Settings
from marketpulse.models.registry import ModelRegistry

if TYPE_CHECKING:
    from marketpulse.models.price import PriceScorer

log = logging.getLogger(__name__)


class ProductionModel:
    """Re-reads the `production` pointer at most every reload_s; swaps the scorer between micro-batches."""

    def __init__(
        self, settings: Settings, name: str, reload_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = ModelRegistry(settings)
        self.name = name
        self.reload_s = reload_s
        self.clock = clock
        self._scorer: PriceScorer | None = None
        self._checked_at: float | None = None
        self._warned = False

    def current(self) -> PriceScorer | None:
        """The scorer of the production version, or None (no model promoted yet, or torch not installed)."""
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.reload_s:
            return self._scorer
        self._checked_at = now
        version = self.registry.production_version(self.name)
        if version is None:
            self._warn_once(f"no production version of {self.name}: predictions are skipped until one is promoted")
            return None
        if self._scorer is None or self._scorer.version != version:
            try:
                from marketpulse.models.price import PriceScorer
            except ImportError:
                self._warn_once("torch is not installed (pip install 'marketpulse[ml]'): predictions are skipped")
                return None
            artifact = self.registry.load(self.name, version)
            self._scorer = PriceScorer.from_artifact(artifact.weights, artifact.meta, version)
            log.info("scoring with %s %s", self.name, version)
        return self._scorer

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            log.warning(message)
            self._warned = True
