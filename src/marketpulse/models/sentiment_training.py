"""Training and evaluation of the sentiment head on labelled finance texts.

Data: a CSV with columns `text,label`, read by path (never copied into the project). Labels are either
the twitter-financial-news codes (0 bearish, 1 bullish, 2 neutral) or the label names themselves.
Split: stratified by label, deterministic for a seed; the validation part is never used for fitting,
early stopping or any choice, and both the trained head and the VADER baseline are reported on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from marketpulse.models.sentiment import (
    DEFAULT_HEAD_PATH,
    SENTIMENT_LABELS,
    SentimentInputError,
    clean_texts,
    load_sentiment_model,
)
from marketpulse.models.sentiment_minilm import (
    ENCODER_NAME,
    ENCODER_PACKAGE,
    build_head,
    embed,
    head_bytes,
    load_encoder,
    read_head,
)

# twitter-financial-news-sentiment's codes (its README: 0 bearish, 1 bullish, 2 neutral) -> our label order.
DATASET_CODES = {0: "bearish", 1: "bullish", 2: "neutral"}
#: Texts in styles the training tweets lack, with obvious labels, written for this project (see MODEL_CARD.md).
ROBUSTNESS_SET = Path(__file__).parent / "weights" / "robustness_set.csv"


@dataclass(frozen=True)
class LabelledTexts:
    """Texts and their label indices into SENTIMENT_LABELS."""

    texts: list[str]
    labels: np.ndarray[Any, np.dtype[np.int64]]
    source: str


@dataclass(frozen=True)
class HeadConfig:
    """The head's shape and optimiser: chosen on a dev split carved from the training part (see MODEL_CARD.md)."""

    hidden: int = 512
    dropout: float = 0.3
    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    # Inverse-frequency class weights lowered dev macro-F1 (0.697 vs 0.723), so plain cross-entropy is the default.
    balance_classes: bool = False


@dataclass
class TrainingResult:
    """The head file's bytes and the validation report of the head and the baseline."""

    weights: bytes
    meta: dict[str, Any]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_labelled_csv(path: Path) -> LabelledTexts:
    """Read `text,label` rows; a missing file, column, empty text or unknown label is a clear error."""
    if not path.is_file():
        raise SentimentInputError(f"no labelled data at {path}")
    frame = pd.read_csv(path, dtype={"text": str}, keep_default_na=False)
    missing = {"text", "label"} - set(frame.columns)
    if missing:
        raise SentimentInputError(f"{path} lacks column(s) {sorted(missing)}; it needs text,label")
    labels = [_label_index(value, path, row) for row, value in enumerate(frame["label"].tolist(), start=2)]
    empty = [row for row, text in enumerate(frame["text"].tolist(), start=2) if not str(text).strip()]
    if empty:
        raise SentimentInputError(f"{path}: empty text on line(s) {empty[:5]}")
    return LabelledTexts([str(t) for t in frame["text"]], np.array(labels, dtype=np.int64), str(path))


def _label_index(value: object, path: Path, line: int) -> int:
    is_code = isinstance(value, int | np.integer) or (isinstance(value, str) and value.strip().isdigit())
    name = DATASET_CODES.get(int(str(value))) if is_code else str(value).strip().lower()
    if name not in SENTIMENT_LABELS:
        raise SentimentInputError(
            f"{path} line {line}: label {value!r} is neither a code {sorted(DATASET_CODES)} "
            f"nor one of {SENTIMENT_LABELS}"
        )
    return SENTIMENT_LABELS.index(name)


def robustness_set() -> LabelledTexts:
    """The project-authored probe set (weights/robustness_set.csv): headlines, analyst sentences, mixed case."""
    return read_labelled_csv(ROBUSTNESS_SET)


def stratified_split(
    labels: np.ndarray[Any, Any], fraction: float, seed: int
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    """(kept, held out) row indices, the held-out part `fraction` of each label, deterministic for a seed."""
    if not 0.0 < fraction < 1.0:
        raise SentimentInputError(f"validation fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in range(len(SENTIMENT_LABELS)):
        rows = np.flatnonzero(labels == label)
        rng.shuffle(rows)
        n_held = round(len(rows) * fraction)
        held.append(rows[:n_held])
        kept.append(rows[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def classification_metrics(y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label F1/precision/recall and the confusion matrix (rows true, columns predicted)."""
    k = len(SENTIMENT_LABELS)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    f1, precision, recall = {}, {}, {}
    for i, label in enumerate(SENTIMENT_LABELS):
        tp = confusion[i, i]
        precision[label] = float(tp / confusion[:, i].sum()) if confusion[:, i].sum() else 0.0
        recall[label] = float(tp / confusion[i, :].sum()) if confusion[i, :].sum() else 0.0
        both = precision[label] + recall[label]
        f1[label] = 2 * precision[label] * recall[label] / both if both else 0.0
    return {
        "accuracy": float(np.trace(confusion) / confusion.sum()) if confusion.sum() else 0.0,
        "macro_f1": float(np.mean(list(f1.values()))),
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "confusion": confusion.tolist(),
        "rows": int(confusion.sum()),
    }


def cached_embeddings(
    encoder: Any,
    texts: list[str],
    cache_dir: Path | None,
    *,
    batch_size: int = 64,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Embeddings of `texts`, reused from `cache_dir` when the same texts were embedded by the same encoder."""
    key = hashlib.sha256("\x1e".join([ENCODER_PACKAGE, *clean_texts(texts)]).encode()).hexdigest()[:20]
    cached = cache_dir / f"sentiment-embeddings-{key}.npy" if cache_dir else None
    if cached and cached.is_file():
        if on_progress:
            on_progress(len(texts), len(texts))
        return np.load(cached)  # type: ignore[no-any-return]
    vectors = embed(
        encoder,
        texts,
        batch_size=batch_size,
        on_batch=(lambda done: on_progress(done, len(texts))) if on_progress else None,
    )
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial.npy")
        np.save(partial, vectors)
        partial.replace(cached)  # a killed run never leaves a truncated cache entry behind
    return vectors


def fit_head(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    config: HeadConfig,
    seed: int,
    on_epoch: Callable[[int, float], None] | None = None,
) -> Any:
    """Train the head with AdamW on fixed epochs; deterministic for a seed on CPU."""
    from marketpulse.optional.torch import torch

    # The head's matmuls are tiny: on 2 shared cores one thread trains ~4x faster than two (thread sync dominates).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit_head(x, y, config, seed, on_epoch)
    finally:
        torch.set_num_threads(threads)


def _fit_head(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    config: HeadConfig,
    seed: int,
    on_epoch: Callable[[int, float], None] | None,
) -> Any:
    from marketpulse.optional.torch import torch

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    head = build_head(config.hidden, config.dropout)
    counts = np.bincount(y, minlength=len(SENTIMENT_LABELS)).astype(np.float64)
    if (counts == 0).any():
        missing = [SENTIMENT_LABELS[i] for i in np.flatnonzero(counts == 0)]
        raise SentimentInputError(f"the training split has no {', '.join(missing)} example: more data needed")
    weights = counts.sum() / (len(counts) * counts) if config.balance_classes else np.ones_like(counts)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
    head.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for start in range(0, len(xt), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = loss_fn(head(xt[batch]), yt[batch])
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        if on_epoch:
            on_epoch(epoch + 1, total / len(xt))
    return head.eval()


def head_predictions(head: Any, x: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Softmax probabilities of a head for precomputed embeddings."""
    from marketpulse.optional.torch import torch

    with torch.inference_mode():
        return torch.softmax(head(torch.as_tensor(np.asarray(x, dtype=np.float32))), dim=1).double().numpy()  # type: ignore[no-any-return, unused-ignore]


def train_sentiment(
    data: LabelledTexts,
    encoder: Any,
    *,
    seed: int = 7,
    validation_fraction: float = 0.2,
    config: HeadConfig | None = None,
    cache_dir: Path | None = None,
    baseline: Any = None,
    on_embed: Callable[[int, int], None] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainingResult:
    """Embed, split, fit the head on the training part, report it (and `baseline`, if given) on validation."""
    config = config or HeadConfig()
    x = cached_embeddings(encoder, data.texts, cache_dir, on_progress=on_embed)
    train_rows, validation_rows = stratified_split(data.labels, validation_fraction, seed)
    head = fit_head(x[train_rows], data.labels[train_rows], config, seed, on_epoch)
    y_val = data.labels[validation_rows]
    metrics = {"minilm": classification_metrics(y_val, head_predictions(head, x[validation_rows]).argmax(axis=1))}
    if baseline is not None:
        val_texts = [data.texts[i] for i in validation_rows]
        metrics[baseline.version] = classification_metrics(y_val, baseline.score(val_texts).argmax(axis=1))
    meta = {
        "data": {"path": data.source, "rows": len(data.texts), "sha256": file_sha256(Path(data.source))},
        "split": {
            "seed": seed,
            "validation_fraction": validation_fraction,
            "stratified": True,
            "train_rows": len(train_rows),
            "validation_rows": len(validation_rows),
        },
        "encoder": {"name": ENCODER_NAME, "package": ENCODER_PACKAGE},
        "head": config.__dict__,
        "validation": metrics,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return TrainingResult(head_bytes(head, hidden=config.hidden, dropout=config.dropout, meta=meta), meta, metrics)


def file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def run_sentiment_training(
    data_path: Path,
    *,
    seed: int,
    validation: float,
    out_path: Path | None,
    threads: int,
    cache_dir: Path | None,
    console: Any,
    out: Any,
) -> TrainingResult:
    """The `marketpulse train sentiment` command: progress bars, the head file, and the validation table."""
    from marketpulse.optional.torch import torch

    torch.set_num_threads(threads)
    labelled = read_labelled_csv(data_path)
    counts = np.bincount(labelled.labels, minlength=len(SENTIMENT_LABELS))
    console.print(
        f"{len(labelled.texts):,} labelled texts from {data_path}: "
        + ", ".join(f"{label} {n:,}" for label, n in zip(SENTIMENT_LABELS, counts, strict=True))
    )
    config = HeadConfig()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        loading = progress.add_task("loading all-MiniLM-L6-v2 (offline)", total=None)
        encoder = load_encoder()
        progress.update(loading, total=1, completed=1)
        embedding = progress.add_task("embedding (cached after the first run)", total=len(labelled.texts))
        fitting = progress.add_task("training the head", total=config.epochs)
        result = train_sentiment(
            labelled,
            encoder,
            seed=seed,
            validation_fraction=validation,
            config=config,
            cache_dir=cache_dir,
            baseline=load_sentiment_model("vader"),
            on_embed=lambda done, total: progress.update(embedding, completed=done, total=total),
            on_epoch=lambda epoch, loss: progress.update(
                fitting, completed=epoch, description=f"training the head, loss {loss:.4f}"
            ),
        )
    target = out_path or DEFAULT_HEAD_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(result.weights)
    _, _, version = read_head(result.weights, str(target))
    split = result.meta["split"]
    out.print(f"wrote {target} ({len(result.weights) / 1024:.0f} KiB), version {version}")
    out.print(
        f"validation split: {split['validation_rows']:,} rows (stratified, seed {seed}); "
        f"the head was fitted on the other {split['train_rows']:,}"
    )
    for name, m in result.metrics.items():
        per_label = ", ".join(f"{label} {m['f1'][label]:.3f}" for label in SENTIMENT_LABELS)
        out.print(f"  {name:<24} accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  (F1: {per_label})")
    return result
