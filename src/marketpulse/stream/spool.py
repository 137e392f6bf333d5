"""The market job's archive path: spooled micro-batch facts -> history stores, off the latency path's clock.

Each micro-batch writes its facts (valid ticks, closed bars, indicators, predictions) to a local spool folder
named by its batch id before it returns. The archiver, a thread of the driver, periodically takes the spooled
batches that Spark has already committed, writes them to every archive sink (Cassandra, PostgreSQL, the parquet
lake) and deletes them. Which batches go together is decided once and written down first (a manifest), so an
archive step cut short by a crash is redone with the same batches under the same names: keyed upserts and
same-named lake files make the redo a no-op, and no batch is ever archived twice under two names.

A batch id below the one Spark is running now is committed (micro-batches run one after another), so it can
never be re-run and re-spooled: that is what makes a spooled batch safe to archive.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import feather

log = logging.getLogger(__name__)


@dataclass
class MarketFacts:
    """What the archive sinks store for one or more micro-batches."""

    #: Valid ticks as they came from Spark (Arrow: no Python object per tick on the way to the lake).
    ticks: pa.Table
    bars_1s: pd.DataFrame
    bars_1m: pd.DataFrame
    indicators: pd.DataFrame
    predictions: pd.DataFrame
    ensemble_inputs: pd.DataFrame
    #: First and last micro-batch id they came from (names the lake files).
    first_batch: int = 0
    last_batch: int = 0

    @classmethod
    def frame_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.type in ("pd.DataFrame", pd.DataFrame)]

    @classmethod
    def concat(cls, parts: Sequence[MarketFacts]) -> MarketFacts:
        frames = {
            name: pd.concat([getattr(p, name) for p in parts], ignore_index=True) if parts else pd.DataFrame()
            for name in cls.frame_names()
        }
        ticks = [p.ticks for p in parts if p.ticks.num_columns]
        return cls(
            ticks=pa.concat_tables(ticks, promote_options="permissive") if ticks else pa.table({}),
            **frames,
            first_batch=min((p.first_batch for p in parts), default=0),
            last_batch=max((p.last_batch for p in parts), default=0),
        )

    @property
    def oldest_kafka_ts(self) -> pd.Timestamp | None:
        if not self.ticks.num_rows or "kafka_ts" not in self.ticks.column_names:
            return None
        return pd.Timestamp(pc.min(self.ticks["kafka_ts"]).as_py())


class Spool:
    """Folders `batch-<id>/` of feather files, one per MarketFacts frame, and `manifest-<first>-<last>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # The micro-batch thread and the archiver both plan, and the archiver retires what it archived: one at a
        # time, so no batch ever lands in two manifests and no plan reads a manifest being retired.
        self._lock = threading.Lock()

    def _folder(self, batch_id: int) -> Path:
        return self.root / f"batch-{batch_id:012d}"

    def write(self, batch_id: int, facts: MarketFacts) -> None:
        """Spool one batch atomically (a temporary folder renamed): a re-run batch replaces its folder whole."""
        tmp = self.root / f".tmp-batch-{batch_id:012d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if facts.ticks.num_rows:
            feather.write_feather(facts.ticks, tmp / "ticks.feather", compression="uncompressed")
        for name in MarketFacts.frame_names():
            frame = getattr(facts, name)
            if not frame.empty:
                frame.reset_index(drop=True).to_feather(tmp / f"{name}.feather", compression="uncompressed")
        final = self._folder(batch_id)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)

    def read(self, batch_id: int) -> MarketFacts:
        folder = self._folder(batch_id)
        frames = {}
        for name in MarketFacts.frame_names():
            path = folder / f"{name}.feather"
            frames[name] = pd.read_feather(path) if path.exists() else pd.DataFrame()
        ticks_path = folder / "ticks.feather"
        ticks = feather.read_table(ticks_path) if ticks_path.exists() else pa.table({})
        return MarketFacts(ticks=ticks, **frames, first_batch=batch_id, last_batch=batch_id)

    def batches(self) -> list[int]:
        return sorted(int(p.name.split("-")[1]) for p in self.root.glob("batch-*"))

    def delete(self, batch_ids: Sequence[int]) -> None:
        for batch_id in batch_ids:
            shutil.rmtree(self._folder(batch_id), ignore_errors=True)

    # -- manifests: the decision of which batches are archived together, written before any store is touched --

    def plan(self, below: int) -> Path | None:
        """Write a manifest for every spooled batch with id < `below` not yet in a manifest; None if there is none."""
        with self._lock:
            return self._plan(below)

    def _plan(self, below: int) -> Path | None:
        planned = {b for manifest in self.manifests() for b in self.manifest_batches(manifest)}
        batches = [b for b in self.batches() if b < below and b not in planned]
        if not batches:
            return None
        path = self.root / f"manifest-{batches[0]:012d}-{batches[-1]:012d}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"batches": batches}))
        os.replace(tmp, path)
        return path

    def manifests(self) -> list[Path]:
        return sorted(self.root.glob("manifest-*.json"))

    @staticmethod
    def manifest_batches(manifest: Path) -> list[int]:
        return [int(b) for b in json.loads(manifest.read_text())["batches"]]

    def retire(self, manifest: Path) -> None:
        """Delete an archived manifest's batches, then the manifest itself."""
        with self._lock:
            self.delete(self.manifest_batches(manifest))
            manifest.unlink()


class ArchiveSink(ABC):
    """One history store: writes MarketFacts idempotently (a redo of the same facts changes nothing)."""

    name = "sink"

    @abstractmethod
    def write(self, facts: MarketFacts) -> None:
        """Store the facts; raise on failure (the archiver keeps them and retries)."""

    def reopen(self) -> None:
        """Reconnect after a failure (the default: nothing to do)."""

    def close(self) -> None:
        """Release connections."""


class Archiver:
    """Drains the spool into the archive sinks in a background thread; retries a failing store until it is back."""

    def __init__(
        self,
        spool: Spool,
        sinks: Sequence[ArchiveSink],
        *,
        on_archived: Callable[[MarketFacts, float], None] | None = None,
        committed_below: Callable[[], int | None] | None = None,
        interval_s: float = 5.0,
        retry_s: float = 2.0,
    ) -> None:
        self.spool = spool
        #: Where the thread can learn by itself which batches are committed (the checkpoint's commit log), so the
        #: last batches before the input goes quiet are archived too, not only when a later batch arrives.
        self.committed_below = committed_below
        self.interval_s = interval_s
        self.sinks = list(sinks)
        self.on_archived = on_archived
        self.retry_s = retry_s
        self.latencies: deque[float] = deque(maxlen=100_000)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> Archiver:
        self._thread = threading.Thread(target=self._run, name="market-archiver", daemon=True)
        self._thread.start()
        return self

    def submit(self, below: int) -> None:
        """Plan the committed batches (ids < below) and wake the thread."""
        if self.spool.plan(below) is not None:
            self._idle.clear()
            self._wake.set()

    def drain(self, below: int, timeout_s: float = 600) -> None:
        """Archive every committed batch (< below) now and wait for it (end of an availableNow run, shutdown)."""
        self.submit(below)
        deadline = time.monotonic() + timeout_s
        while self.spool.manifests() and time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                self._archive_planned()  # no thread (tests, or it ended): do it here
            else:
                self._wake.set()
                time.sleep(0.05)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._wake.wait(timeout=self.interval_s) and self.committed_below is not None:
                below = self.committed_below()
                if below is not None:
                    self.spool.plan(below)
            self._wake.clear()
            self._archive_planned()

    def _archive_planned(self) -> None:
        for manifest in self.spool.manifests():
            if self._stop.is_set():
                return
            batches = self.spool.manifest_batches(manifest)
            facts = MarketFacts.concat([self.spool.read(b) for b in batches])
            facts.first_batch, facts.last_batch = batches[0], batches[-1]
            self._write_until_done(facts)
            self.spool.retire(manifest)
            done = time.time()
            oldest = facts.oldest_kafka_ts
            if oldest is not None:
                self.latencies.append(done - oldest.timestamp())
            if self.on_archived:
                self.on_archived(facts, done)
        self._idle.set()

    def _write_until_done(self, facts: MarketFacts) -> None:
        """Every sink, in order; a failing one is retried (the spool keeps the facts), never skipped."""
        for sink in self.sinks:
            attempt = 0
            while True:
                try:
                    sink.write(facts)
                    self.error = None
                    break
                except Exception as exc:  # a store outage: keep the facts, retry; the live path goes on
                    attempt += 1
                    self.error = f"{sink.name}: {type(exc).__name__}: {exc}"
                    log.warning("archive to %s failed (attempt %d), retrying: %s", sink.name, attempt, exc)
                    if self._stop.wait(min(30.0, self.retry_s * attempt)):
                        raise
                    self._reopen(sink)

    @staticmethod
    def _reopen(sink: ArchiveSink) -> None:
        try:
            sink.reopen()
        except Exception as exc:  # still down: the next attempt reports it
            log.debug("reopening %s failed: %s", sink.name, exc)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        for sink in self.sinks:
            sink.close()
