"""Rich output of the model commands: progress bars for walk-forward runs, and the tables of held-out metrics and
of the family served per horizon."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from marketpulse.cli.console import console


@contextmanager
def progress_bars() -> Iterator[tuple[Any, Any]]:
    """(folds callback, epochs callback) feeding two progress bars."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        folds = progress.add_task("preparing data", total=None)
        epochs = progress.add_task("epochs", total=None, visible=False)

        # Without a terminal (CI logs, `platform up`'s log files) the bars do not redraw: print one line per step.
        lines = not console.is_terminal

        def on_stage(what: str, done: int, total: int) -> None:
            progress.update(folds, description=what, completed=done, total=total)
            if lines:
                console.print(f"[{done}/{total}] {what}", highlight=False)

        def on_epoch(epoch: int, total: int, loss: float, cal: float) -> None:
            description = f"loss {loss:.4f} · cal {cal:.5f}"
            progress.update(epochs, visible=True, completed=epoch, total=total, description=description)
            if lines:
                console.print(f"  epoch {epoch}/{total}: {description}", highlight=False)

        yield on_stage, on_epoch


def summary_table(metrics: dict[str, Any], horizon: str) -> Table:
    table = Table(title=f"held-out, horizon {horizon} (pooled over folds)")
    for column in ("model", "rows", "log-loss", "Brier", "AUC", "dir. acc.", "IC", "long/flat net", "buy & hold"):
        table.add_column(column)
    for model, by_horizon in metrics.items():
        entry = by_horizon.get(horizon)
        if entry is None:
            continue
        p, bt = entry["pooled"], entry["backtest"]["pooled_equal_weight"]

        def f(value: float) -> str:
            return "nan" if math.isnan(value) else f"{value:.4f}"

        table.add_row(
            model,
            str(p["rows"]),
            f(p["log_loss"]),
            f(p["brier"]),
            f(p["auc"]),
            f(p["directional_accuracy"]),
            f(p["ic"]),
            f(bt["strategy_log_return"]),
            f(bt["buy_hold_log_return"]),
        )
    return table


def serving_table(decision: Any) -> Table:
    """Per horizon: the family served and why (the paired comparisons are in the report)."""
    table = Table(title="served per horizon (walk-forward winner; a baseline unless a candidate beats them all)")
    for column in ("horizon", "family", "why"):
        table.add_column(column)
    for horizon, choice in decision.serving.items():
        table.add_row(horizon, choice.family, choice.reason)
    return table
