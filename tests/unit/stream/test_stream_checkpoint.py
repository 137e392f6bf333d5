"""A damaged checkpoint stops a stream job with an error that names the file and the repair command (never a silent
reset of its offsets), and the repair rolls it back to the newest consistent batch, moving the rest aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketpulse.stream.checkpoint import (
    CheckpointError,
    apply_repair,
    plan_repair,
    verify_checkpoint,
)

QUERY = "market-live"


def _checkpoint(root: Path, batches: int, *, uncommitted: bool = True) -> Path:
    """A checkpoint in Spark's layout with `batches` committed batches (and one planned), and the driver's state."""
    (root / "offsets").mkdir(parents=True)
    (root / "commits").mkdir()
    state = root / "driver" / "state"
    state.mkdir(parents=True)
    (root / "metadata").write_text(json.dumps({"id": "5f0c"}))
    for batch in range(batches + (1 if uncommitted else 0)):
        meta = {"batchWatermarkMs": 0, "batchTimestampMs": 1_700_000_000_000 + batch, "conf": {}}
        offsets = {"market.ticks": {"0": 100 * (batch + 1), "1": 90 * (batch + 1)}}
        (root / "offsets" / str(batch)).write_text(f"v1\n{json.dumps(meta)}\n{json.dumps(offsets)}")
        if batch < batches:
            (root / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')
            tails = batch - batch % 2
            (state / f"state-{batch:012d}.json").write_text(json.dumps({"open": {}, "tails_batch": tails}))
            if batch == tails:
                (state / f"tails-{batch:012d}.json").write_text(json.dumps({"AAPL": []}))
    return root


def _verify(root: Path) -> None:
    verify_checkpoint(QUERY, str(root), root / "driver" / "state")


def test_a_sound_or_new_checkpoint_passes(tmp_path: Path) -> None:
    _verify(_checkpoint(tmp_path / "ckpt", 5))
    _verify(tmp_path / "new")  # a first start: nothing there yet
    verify_checkpoint(QUERY, "s3a://bucket/checkpoints/market-live")  # object storage: Spark checks it alone


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda root: (root / "commits" / "4").write_text('v1\n{"nextBatchWat'), "commits/4"),
        (lambda root: (root / "commits" / "4").write_text(""), "commits/4"),
        (lambda root: (root / "offsets" / "5").write_text('v1\n{"batchWatermarkMs":0}\n{"market.ti'), "offsets/5"),
        (lambda root: (root / "offsets" / "4").unlink() or (root / "offsets" / "5").unlink(), "offsets/4"),
        (lambda root: (root / "metadata").write_text('{"id":'), "metadata"),
        (lambda root: (root / "driver" / "state" / "state-000000000004.json").unlink(), "state-000000000004.json"),
        (lambda root: (root / "driver" / "state" / "state-000000000004.json").write_text('{"open"'), "state-0000000"),
        (
            lambda root: (root / "driver" / "state" / "tails-000000000004.json").write_text("[1, 2"),
            "tails-000000000004",
        ),
    ],
)
def test_a_damaged_checkpoint_names_the_file_and_the_repair(tmp_path: Path, damage: object, named: str) -> None:
    root = _checkpoint(tmp_path / "ckpt", 5)
    damage(root)  # type: ignore[operator]
    with pytest.raises(CheckpointError) as error:
        _verify(root)
    message = str(error.value)
    assert named in message
    assert f"marketpulse stream repair-checkpoint {QUERY}" in message
    assert "refuses to start" in message


def test_lost_offsets_with_the_driver_state_left_is_not_taken_for_a_first_start(tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "ckpt", 3)
    for kind in ("offsets", "commits"):
        for path in (root / kind).iterdir():
            path.unlink()
    with pytest.raises(CheckpointError, match="start afresh"):
        _verify(root)
    plan = plan_repair(QUERY, str(root), root / "driver" / "state")
    assert not plan.possible and "backfill" in plan.describe()


def test_repair_rolls_back_to_the_newest_consistent_batch_and_keeps_what_it_moves(tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "ckpt", 5)
    (root / "commits" / "4").write_text('v1\n{"next')  # truncated newest commit
    (root / ".4.crc").write_text("")  # not beside commits/4: left where it is
    (root / "commits" / ".4.crc").write_text("crc")
    state = root / "driver" / "state"

    plan = plan_repair(QUERY, str(root), state)
    assert plan.possible and plan.resume_after == 3
    assert sorted(str(p.relative_to(root)) for p in plan.moves) == ["commits/4", "offsets/4", "offsets/5"]
    assert "resume after batch 3" in plan.describe()

    quarantine = apply_repair(plan, now=0)
    assert quarantine is not None and quarantine.name == "quarantine-19700101T000000Z"
    assert (quarantine / "commits" / "4").read_text() == 'v1\n{"next'
    assert (quarantine / "commits" / ".4.crc").exists()
    _verify(root)  # the job starts again: Spark re-plans batch 4 from batch 3's end offsets
    assert sorted(p.name for p in (root / "commits").iterdir() if not p.name.startswith(".")) == ["0", "1", "2", "3"]


def test_repair_of_a_missing_state_snapshot_rolls_back_to_a_batch_with_one(tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "ckpt", 5)
    state = root / "driver" / "state"
    (state / "state-000000000004.json").unlink()
    (state / "state-000000000003.json").write_text("{")
    plan = plan_repair(QUERY, str(root), state)
    assert plan.resume_after == 2
    apply_repair(plan)
    _verify(root)


def test_repair_of_a_sound_checkpoint_does_nothing(tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "ckpt", 3)
    plan = plan_repair(QUERY, str(root), root / "driver" / "state")
    assert plan.moves == [] and "nothing to repair" in plan.describe()
    assert apply_repair(plan) is None
