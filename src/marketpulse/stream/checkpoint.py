"""Checkpoint checks before a stream job starts, and the repair an operator runs when one fails.

A streaming query resumes from its Spark checkpoint (`offsets/<batch>`: what each batch reads, `commits/<batch>`:
the batches done, `metadata`: the query id) and, for the market job, from the driver's state snapshot after the
newest committed batch (`<checkpoint>/driver/state/state-<batch>.json`). A truncated or missing file there would
either stop Spark with an error that names neither the file nor a way out, or worse make it start afresh from
`stream.starting_offsets` (silently losing or re-reading data). So every job checks its checkpoints before Spark
starts (`verify_job_checkpoints`, called by `run_until_signalled`) and refuses to start with a `CheckpointError`
that names the file and the command:

    marketpulse stream repair-checkpoint <query>            # shows what it would do
    marketpulse stream repair-checkpoint <query> --apply    # does it

The repair rolls the checkpoint back to the newest batch whose offsets, commit and (market job) state snapshot are
all readable: every file of a later or unreadable batch is moved (never deleted) into
`<checkpoint>/quarantine-<UTC time>/`. Spark then re-plans the batches after it from that batch's end offsets and
the job re-runs them from that batch's state; every store write is keyed, so the re-run neither loses nor
duplicates rows (the same path as a re-run after a crash). When nothing consistent is left (no readable committed
batch), the repair says so and the choices are a restore of the folder or a new checkpoint and a backfill.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.stream.market_job import LIVE_QUERY, driver_folder

#: The repair command an error names (`{query}` filled in).
REPAIR_COMMAND = "marketpulse stream repair-checkpoint {query}"


class CheckpointError(StackError):
    """A checkpoint a job would resume from is damaged; the message names the file and the repair command."""


def _local(checkpoint: str) -> Path | None:
    """The folder of a local checkpoint (None: object storage, checked by Spark alone)."""
    if "://" in checkpoint and not checkpoint.startswith("file:"):
        return None
    return Path(checkpoint.removeprefix("file://").removeprefix("file:"))


def _batches(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.glob("[0-9]*") if p.name.isdigit()) if folder.is_dir() else []


def _log_problem(path: Path, min_lines: int) -> str | None:
    """Why a Spark metadata-log file (`v1` then JSON lines) is unreadable, or None when it is fine: what Spark's
    OffsetSeqLog (version, metadata, one line per source: 3 lines) and CommitLog (a version line; its JSON line may
    be absent) refuse to read, or would read as something else."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return "is missing"
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot be read ({exc})"
    lines = text.split("\n")
    if not lines[0].startswith("v") or not lines[0][1:].isdigit():
        return "is truncated or not a Spark log file (no version line)"
    if len([line for line in lines[1:] if line.strip()]) < min_lines - 1:
        return f"is truncated ({len(text)} bytes)"
    for line in lines[1:]:
        if line.strip() and line.strip() != "-":
            try:
                json.loads(line)
            except json.JSONDecodeError:
                return f"is truncated or corrupt ({len(text)} bytes; a line is not JSON)"
    return None


def _state_problem(state_dir: Path, batch: int) -> str | None:
    """Why the market driver's state after `batch` is unreadable, or None."""
    small = state_dir / f"state-{batch:012d}.json"
    try:
        snapshot = json.loads(small.read_text())
    except FileNotFoundError:
        return f"{small} is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{small} is truncated or corrupt ({type(exc).__name__})"
    tails_batch = snapshot.get("tails_batch") if isinstance(snapshot, dict) else None
    if tails_batch is None:
        return None
    tails = state_dir / f"tails-{int(tails_batch):012d}.json"
    try:
        json.loads(tails.read_text())
    except FileNotFoundError:
        return f"{tails} (named by {small.name}) is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{tails} (named by {small.name}) is truncated or corrupt ({type(exc).__name__})"
    return None


@dataclass
class CheckpointCheck:
    """What a checkpoint holds and what is wrong with it."""

    query: str
    root: Path
    state_dir: Path | None
    offsets: list[int] = field(default_factory=list)
    commits: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        return not self.offsets and not self.commits

    def batch_ok(self, batch: int) -> bool:
        """Batch `batch` is a consistent point to resume after: offsets, commit and state all readable."""
        root = self.root
        if _log_problem(root / "offsets" / str(batch), 3) or _log_problem(root / "commits" / str(batch), 1):
            return False
        return self.state_dir is None or _state_problem(self.state_dir, batch) is None


def check_checkpoint(query: str, checkpoint: str, state_dir: Path | None = None) -> CheckpointCheck | None:
    """Inspect a local checkpoint the way a restart will read it (None: not local, Spark checks it alone)."""
    root = _local(checkpoint)
    if root is None:
        return None
    check = CheckpointCheck(query, root, state_dir, _batches(root / "offsets"), _batches(root / "commits"))
    problems = check.problems
    snapshots = sorted(state_dir.glob("state-*.json")) if state_dir is not None and state_dir.is_dir() else []
    if check.fresh:
        if snapshots:
            problems.append(
                f"{root / 'offsets'} and {root / 'commits'} are missing or empty, but the driver state holds "
                f"{snapshots[-1].name}: Spark would start afresh from stream.starting_offsets (losing or re-reading "
                "data) while the state is from an older run"
            )
        return check
    if not _json_file(root / "metadata"):  # the query's id: without it Spark would start a new query
        state = "is missing" if not (root / "metadata").exists() else "is truncated or corrupt"
        problems.append(f"{root / 'metadata'} {state}")
    newest = check.offsets[-1] if check.offsets else None
    if newest is not None:
        problem = _log_problem(root / "offsets" / str(newest), 3)
        if problem:
            problems.append(f"{root / 'offsets' / str(newest)} {problem}")
    if check.commits:
        committed = check.commits[-1]
        problem = _log_problem(root / "commits" / str(committed), 1)
        if problem:
            problems.append(f"{root / 'commits' / str(committed)} {problem}")
        offsets_of_commit = root / "offsets" / str(committed)
        if committed != newest:
            problem = _log_problem(offsets_of_commit, 3)
            if problem:
                problems.append(f"{offsets_of_commit} (of the newest committed batch {committed}) {problem}")
        if newest is not None and newest > committed + 1:
            problems.append(f"{root / 'offsets'} runs to batch {newest}, but {root / 'commits'} stops at {committed}")
        if state_dir is not None:
            problem = _state_problem(state_dir, committed)
            if problem:
                problems.append(f"{problem} (the state after the newest committed batch {committed})")
    elif newest is not None and newest > 0:
        problems.append(f"{root / 'commits'} is missing or empty, but {root / 'offsets'} runs to batch {newest}")
    return check


def _json_file(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return True


def verify_checkpoint(query: str, checkpoint: str, state_dir: Path | None = None) -> None:
    """Raise CheckpointError naming the damaged file(s) and the repair command; nothing when the checkpoint is sound
    (or new, or not local)."""
    check = check_checkpoint(query, checkpoint, state_dir)
    if check is None or not check.problems:
        return
    command = REPAIR_COMMAND.format(query=query)
    raise CheckpointError(
        f"the checkpoint of {query} cannot be resumed from: " + "; ".join(check.problems) + ". The job refuses to "
        "start rather than reset its offsets (which would lose or repeat data). See what a repair would do with "
        f"`{command}`, then run `{command} --apply` (it rolls the checkpoint back to the newest consistent batch and "
        "moves the rest aside; the job re-runs the later batches into keyed stores), or restore the folder from a "
        "backup."
    )


def job_checkpoints(settings: Settings, queries: Iterable[str]) -> list[tuple[str, str, Path | None]]:
    """(query, checkpoint, driver state folder or None) of each query; the market job's live query has a state."""
    return [
        (
            query,
            settings.checkpoint_location(query),
            driver_folder(settings, LIVE_QUERY) / "state" if query == LIVE_QUERY else None,
        )
        for query in queries
    ]


def verify_job_checkpoints(settings: Settings, queries: Iterable[str]) -> None:
    for query, checkpoint, state_dir in job_checkpoints(settings, queries):
        verify_checkpoint(query, checkpoint, state_dir)


@dataclass
class RepairPlan:
    """What `repair-checkpoint` does: resume after `resume_after` (None: start afresh), move `moves` aside."""

    query: str
    root: Path
    resume_after: int | None
    moves: list[Path]
    problems: list[str]
    possible: bool

    def describe(self) -> str:
        if not self.problems:
            return f"the checkpoint of {self.query} ({self.root}) is sound: nothing to repair"
        if not self.possible:
            return (
                f"the checkpoint of {self.query} ({self.root}) has no readable committed batch to roll back to: "
                + "; ".join(self.problems)
                + ". Restore the folder from a backup, or remove it (the job then starts from "
                "stream.starting_offsets) and rebuild history with `marketpulse backfill`."
            )
        names = ", ".join(str(path.relative_to(self.root)) for path in self.moves) or "nothing"
        return (
            f"{self.query}: " + "; ".join(self.problems) + f". Repair: resume after batch {self.resume_after}, "
            f"moving aside {names}; the job re-runs the later batches (keyed stores: no duplicates)."
        )


def plan_repair(query: str, checkpoint: str, state_dir: Path | None = None) -> RepairPlan:
    check = check_checkpoint(query, checkpoint, state_dir)
    if check is None:
        raise CheckpointError(f"{checkpoint} is not a local folder: repair it with the object store's own tools")
    if not check.problems:
        return RepairPlan(query, check.root, check.commits[-1] if check.commits else None, [], [], True)
    good = [batch for batch in check.commits if check.batch_ok(batch)]
    if not good:
        return RepairPlan(query, check.root, None, [], check.problems, False)
    resume_after = good[-1]
    moves = [
        check.root / kind / str(batch)
        for kind in ("offsets", "commits")
        for batch in _batches(check.root / kind)
        if batch > resume_after
    ]
    return RepairPlan(query, check.root, resume_after, moves, check.problems, True)


def apply_repair(plan: RepairPlan, now: float | None = None) -> Path | None:
    """Move the plan's files (and Hadoop's .crc files beside them) into a quarantine folder; return it."""
    if not plan.possible:
        raise CheckpointError(plan.describe())
    if not plan.moves:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    quarantine = plan.root / f"quarantine-{stamp}"
    for path in plan.moves:
        target = quarantine / path.relative_to(plan.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
        crc = path.with_name(f".{path.name}.crc")
        if crc.exists():
            crc.rename(target.with_name(crc.name))
    return quarantine
