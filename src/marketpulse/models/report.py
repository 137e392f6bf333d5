"""The walk-forward report: Markdown and a self-contained HTML page with SVG plots, stored in the registry bucket
under `reports/<name>/<report id>/` and listed by the API."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from marketpulse.models.data import Horizon
from marketpulse.models.metrics import calibration_bins, equity_curve, non_overlapping
from marketpulse.models.registry import ModelRegistry
from marketpulse.models.walk_forward import CONFIDENCE, FAMILIES, PRODUCTION, Decision, Evaluation

Array = np.ndarray[Any, Any]
COLORS = {"tcn": "#d62728", "logistic": "#1f77b4", "persistence": "#2ca02c", "climatology": "#7f7f7f"}
COLORS["gbm"] = "#ff7f0e"
COLORS[PRODUCTION] = "#9467bd"
COLORS["buy & hold"] = "#000000"


def svg_lines(title: str, series: dict[str, tuple[Array, Array]], x_label: str, y_label: str) -> str:
    """A small line chart: name -> (x, y)."""
    width, height, pad = 560, 300, 48
    xs = np.concatenate([x for x, _ in series.values()]) if series else np.zeros(1)
    ys = np.concatenate([y for _, y in series.values()]) if series else np.zeros(1)
    finite = np.isfinite(ys)
    x0, x1 = float(np.min(xs)), float(np.max(xs))
    y0, y1 = (float(np.min(ys[finite])), float(np.max(ys[finite]))) if finite.any() else (0.0, 1.0)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1e-9)

    def sx(v: float) -> float:
        return pad + (v - x0) / (x1 - x0) * (width - 2 * pad)

    def sy(v: float) -> float:
        return height - pad - (v - y0) / (y1 - y0) * (height - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{html.escape(title)}</text>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#444"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#444"/>',
        f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">{html.escape(x_label)}</text>',
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">'
        f"{html.escape(y_label)}</text>",
        f'<text x="{pad - 4}" y="{sy(y0)}" text-anchor="end">{y0:.4g}</text>',
        f'<text x="{pad - 4}" y="{sy(y1) + 8}" text-anchor="end">{y1:.4g}</text>',
    ]
    for k, (name, (x, y)) in enumerate(series.items()):
        color = COLORS.get(name, "#ff7f0e")
        if len(x) > 1500:  # keep the page light: every n-th point of a long curve
            step = len(x) // 1500 + 1
            x, y = x[::step], y[::step]
        points = " ".join(f"{sx(float(a)):.1f},{sy(float(b)):.1f}" for a, b in zip(x, y, strict=True) if np.isfinite(b))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>')
        if len(x) <= 20:
            parts += [
                f'<circle cx="{sx(float(a)):.1f}" cy="{sy(float(b)):.1f}" r="2.5" fill="{color}"/>'
                for a, b in zip(x, y, strict=True)
                if np.isfinite(b)
            ]
        parts.append(
            f'<text x="{width - pad + 4}" y="{pad + 14 * k}" fill="{color}" font-size="10">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Report:
    markdown: str
    html: str
    plots: dict[str, str]  # file name -> SVG
    summary: dict[str, Any]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def comparison_lines(decision: Decision, horizon: str) -> list[str]:
    """The served family and the paired comparisons of every candidate with every baseline at one horizon."""
    choice = decision.serving.get(horizon)
    if choice is None:
        return []
    lines = [
        f"### Served: {choice.family}",
        "",
        choice.reason,
        "",
        f"Paired per-bar log-loss difference candidate - baseline (negative: the candidate is better), "
        f"{CONFIDENCE:.0%} session block-bootstrap interval:",
        "",
        "| candidate | vs baseline | diff | lower | upper | significant |",
        "|---|---|---|---|---|---|",
    ]
    for candidate, by_baseline in choice.comparisons.items():
        for baseline, v in by_baseline.items():
            verdict = "better" if v["upper"] < 0 else ("worse" if v["lower"] > 0 else "no")
            lines.append(
                f"| {candidate} | {baseline} | {v['diff']:+.5f} | {v['lower']:+.5f} | {v['upper']:+.5f} | {verdict} |"
            )
    return [*lines, ""]


def build_report(evaluation: Evaluation, decision: Decision, title: str, context: dict[str, Any]) -> Report:
    """Tables of pooled, per-fold and per-symbol scores per horizon, the paired comparisons behind the served
    family; plots of log-loss per fold, the served family's calibration and its long/flat equity curve."""
    metrics = evaluation.metrics
    lines = [f"# {title}", ""]
    for key, value in context.items():
        lines.append(f"- **{key}**: {value}")
    lines.append("")
    plots: dict[str, str] = {}
    models = [m for m in (*FAMILIES, PRODUCTION) if m in metrics]
    horizons = sorted({h for m in models for h in metrics[m]}, key=horizon_order)
    predictions = evaluation.predictions
    for horizon in horizons:
        served = decision.serving[horizon].family if horizon in decision.serving else "tcn"
        lines += [f"## Horizon {horizon}", "", *comparison_lines(decision, horizon)]
        lines += ["### Pooled over all held-out folds", ""]
        lines.append(
            "| model | rows | log-loss | Brier | AUC | dir. acc. | IC | long/flat net | buy & hold | exposure |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for model in models:
            entry = metrics[model].get(horizon)
            if entry is None:
                continue
            p, bt = entry["pooled"], entry["backtest"]["pooled_equal_weight"]
            lines.append(
                f"| {model} | {p['rows']} | {_fmt(p['log_loss'])} | {_fmt(p['brier'])} | {_fmt(p['auc'])} | "
                f"{_fmt(p['directional_accuracy'])} | {_fmt(p['ic'])} | "
                f"{_fmt(bt.get('strategy_log_return', math.nan))} | "
                f"{_fmt(bt.get('buy_hold_log_return', math.nan))} | {_fmt(bt.get('exposure', math.nan))} |"
            )
        lines += [
            "",
            "### Log-loss per fold",
            "",
            "| model | " + " | ".join(f"fold {s + 1}" for s in range(len(evaluation.splits))) + " |",
        ]
        lines.append("|---" * (len(evaluation.splits) + 1) + "|")
        fold_series: dict[str, tuple[Array, Array]] = {}
        for model in models:
            entry = metrics[model].get(horizon)
            if entry is None:
                continue
            folds = entry["per_fold"]
            lines.append(
                f"| {model} | "
                + " | ".join(
                    _fmt(folds[f]["log_loss"]) if f in folds else "-" for f in range(1, len(evaluation.splits) + 1)
                )
                + " |"
            )
            keys = sorted(folds)
            fold_series[model] = (np.array(keys, dtype=float), np.array([folds[f]["log_loss"] for f in keys]))
        name = f"logloss_{horizon}.svg"
        plots[name] = svg_lines(f"held-out log-loss per fold, {horizon}", fold_series, "fold", "log-loss")
        lines += ["", f"![log-loss per fold]({name})", "", f"### Per symbol ({served}, pooled folds)", ""]
        lines.append("| symbol | rows | log-loss | Brier | AUC | dir. acc. | IC | long/flat net | buy & hold |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        candidate = metrics.get(served, {}).get(horizon)
        if candidate is not None:
            for symbol, p in candidate["per_symbol"].items():
                bt = candidate["backtest"]["per_symbol"].get(symbol, {})
                lines.append(
                    f"| {symbol} | {p['rows']} | {_fmt(p['log_loss'])} | {_fmt(p['brier'])} | {_fmt(p['auc'])} | "
                    f"{_fmt(p['directional_accuracy'])} | {_fmt(p['ic'])} | "
                    f"{_fmt(bt.get('strategy_log_return', math.nan))} | "
                    f"{_fmt(bt.get('buy_hold_log_return', math.nan))} |"
                )
        mine = predictions[(predictions["model"] == served) & (predictions["horizon"] == horizon)]
        if not mine.empty:
            bins = calibration_bins(mine["prob_up"].to_numpy(), (mine["ret"].to_numpy() > 0).astype(float))
            name = f"calibration_{horizon}.svg"
            plots[name] = svg_lines(
                f"calibration of {served}, {horizon}",
                {
                    served: (np.array([b["mean_prob"] for b in bins]), np.array([b["up_rate"] for b in bins])),
                    "perfect calibration": (np.array([0.0, 1.0]), np.array([0.0, 1.0])),
                },
                "mean predicted P(up)",
                "observed up-rate",
            )
            lines += ["", f"![calibration]({name})", ""]
            name = f"equity_{horizon}.svg"
            plots[name] = _equity_plot(mine, served, horizon, context.get("cost_bps", 0.0))
            lines += [f"![equity]({name})", ""]
    markdown = "\n".join(lines) + "\n"
    page = _html(title, markdown, plots)
    return Report(markdown, page, plots, {"title": title, **context})


def horizon_order(name: str) -> tuple[int, int]:
    """Shortest horizon first: minutes within the session, then sessions."""
    parsed = Horizon.parse(name)
    return parsed.sessions, parsed.minutes


def _equity_plot(mine: Any, served: str, horizon: str, cost_bps: float) -> str:
    """Equal-weight mean over symbols of cumulative log returns, over back-to-back periods of the first symbol's
    length (symbols are cut to the shortest so the mean is over the same number of periods)."""
    strategy_curves, hold_curves = [], []
    for _, g in mine.sort_values(["symbol", "ts"]).groupby("symbol"):
        chosen = non_overlapping(g["symbol"].to_numpy(), g["ts"].astype("int64").to_numpy(), g["end_ns"].to_numpy())
        s, h = equity_curve(g["prob_up"].to_numpy()[chosen], g["ret"].to_numpy()[chosen], float(cost_bps))
        strategy_curves.append(s)
        hold_curves.append(h)
    n = min(len(c) for c in strategy_curves)
    x = np.arange(n, dtype=float)
    return svg_lines(
        f"long/flat after {cost_bps} bp vs buy & hold, {horizon} (mean over symbols)",
        {
            served: (x, np.mean([c[:n] for c in strategy_curves], axis=0)),
            "buy & hold": (x, np.mean([c[:n] for c in hold_curves], axis=0)),
        },
        "holding period",
        "cumulative log return",
    )


def _html(title: str, markdown: str, plots: dict[str, str]) -> str:
    """A plain HTML rendering of the Markdown (tables, headings, lists) with the SVGs inlined."""
    body = []
    table: list[str] = []

    def flush_table() -> None:
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
            cells = [[html.escape(c.strip()) for c in r.strip("|").split("|")] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            rest = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
            body.append(f"<table><tr>{head}</tr>{rest}</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("!["):
            name = line.split("(", 1)[1].rstrip(")")
            body.append(plots.get(name, ""))
        elif line.startswith("- "):
            body.append(f"<p>{html.escape(line[2:]).replace('**', '')}</p>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush_table()
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}"
    )
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>"


def report_prefix(name: str, report_id: str) -> str:
    return f"reports/{name}/{report_id}/"


def write_report(directory: Path, report: Report, metrics: dict[str, Any]) -> Path:
    """The same files as store_report, into a local directory (an evaluation that stores nothing in the registry)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.md").write_text(report.markdown)
    (directory / "report.html").write_text(report.html)
    for file_name, svg in report.plots.items():
        (directory / file_name).write_text(svg)
    (directory / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str))
    return directory / "report.md"


def store_report(registry: ModelRegistry, name: str, report_id: str, report: Report, metrics: dict[str, Any]) -> str:
    """Write report.md, report.html, the SVGs and metrics.json under reports/<name>/<id>/; return the prefix."""
    prefix = report_prefix(name, report_id)
    registry.put_bytes(prefix + "report.md", report.markdown.encode(), "text/markdown; charset=utf-8")
    registry.put_bytes(prefix + "report.html", report.html.encode(), "text/html; charset=utf-8")
    for file_name, svg in report.plots.items():
        registry.put_bytes(prefix + file_name, svg.encode(), "image/svg+xml")
    registry.put_bytes(prefix + "metrics.json", json.dumps(metrics, indent=1, default=str).encode(), "application/json")
    registry.put_bytes(prefix + "summary.json", json.dumps(report.summary, default=str).encode(), "application/json")
    return prefix


def list_reports(registry: ModelRegistry, name: str | None = None) -> list[dict[str, Any]]:
    """Every stored report (newest first) with its summary and the files it holds."""
    found: dict[tuple[str, str], list[str]] = {}
    for key in registry.list_keys("reports/" + (f"{name}/" if name else "")):
        parts = key.split("/")
        if len(parts) == 4:
            found.setdefault((parts[1], parts[2]), []).append(parts[3])
    out = []
    for (model, report_id), files in found.items():
        summary = (
            json.loads(registry.get_bytes(report_prefix(model, report_id) + "summary.json"))
            if "summary.json" in files
            else {}
        )
        out.append({"model": model, "report_id": report_id, "files": sorted(files), "summary": summary})
    return sorted(out, key=lambda r: r["report_id"], reverse=True)
