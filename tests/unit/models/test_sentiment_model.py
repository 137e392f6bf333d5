"""The sentiment models: interface, the shipped fine-tuned model (version, validation accuracy, robustness set),
obvious headlines, offline loading without torch, and the visible fallback to the VADER baseline."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketpulse.models.sentiment import (
    DEFAULT_MODEL_PATH,
    SENTIMENT_LABELS,
    SentimentInputError,
    SentimentModel,
    SentimentModelError,
    load_sentiment_model,
    load_with_fallback,
    polarity,
)
from marketpulse.models.sentiment_lexicon import LexiconSentimentModel
from marketpulse.models.sentiment_onnx import OnnxSentimentModel
from marketpulse.models.sentiment_training import (
    classification_metrics,
    read_labelled_csv,
    robustness_set,
    stratified_split,
)

# Read by path from the shared data folder beside the checkout (never copied into the project).
TRAIN_CSV = Path(__file__).resolve().parents[4] / "shared" / "data" / "sentiment" / "twitter_financial_news_train.csv"

BULLISH = [
    "Acme beats estimates and raises guidance",
    "Nvidia upgraded to buy at Morgan Stanley, shares jump 6%",
    "Tesla stock soars to a record high after strong deliveries",
    "Apple reports record quarterly revenue, beats Wall Street expectations",
]
BEARISH = [
    "Acme downgraded to sell, shares plunge",
    "Intel misses estimates and cuts guidance; stock tumbles 10%",
    "Boeing shares slump after profit warning",
    "Retailer plunges after weak sales and a guidance cut",
]
NEUTRAL = [
    "Microsoft to hold its annual shareholder meeting on December 5",
    "Acme will report third-quarter results on October 24",
]


class _NetworkGuard:
    """Refuses and records every socket connection attempt made while it is installed."""

    def __init__(self) -> None:
        self.attempts: list[object] = []

    def connect(self, sock: socket.socket, address: object) -> None:
        self.attempts.append(address)
        raise OSError(f"network disabled in this test: connect to {address}")


@pytest.fixture(scope="module")
def network_attempts_while_loading() -> tuple[OnnxSentimentModel, list[object]]:
    """The shipped fine-tuned model, loaded with every socket connection refused."""
    guard = _NetworkGuard()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guard.connect)
        patch.setattr(socket.socket, "connect_ex", guard.connect)
        model = load_sentiment_model("minilm", threads=1)
        model.score(["warm-up"])
    assert isinstance(model, OnnxSentimentModel)
    return model, guard.attempts


@pytest.fixture(scope="module")
def minilm(network_attempts_while_loading: tuple[OnnxSentimentModel, list[object]]) -> OnnxSentimentModel:
    return network_attempts_while_loading[0]


@pytest.fixture(scope="module")
def vader() -> SentimentModel:
    return load_sentiment_model("vader")


def _label_names(probs: np.ndarray[Any, Any]) -> list[str]:
    return [SENTIMENT_LABELS[i] for i in probs.argmax(axis=1)]


def _assert_probabilities(probs: np.ndarray[Any, Any], n: int) -> None:
    assert probs.shape == (n, 3)
    assert probs.dtype == np.float64
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_labels_and_polarity() -> None:
    assert SENTIMENT_LABELS == ("bearish", "neutral", "bullish")
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.1, 0.2, 0.7], [0.25, 0.5, 0.25]])
    np.testing.assert_allclose(polarity(probs), [-1.0, 0.0, 0.6, 0.0])
    with pytest.raises(SentimentInputError, match=r"\(n, 3\)"):
        polarity(np.ones((2, 2)))


@pytest.mark.parametrize("kind", ["vader", "minilm"])
def test_interface_shapes_and_probabilities(kind: str, vader: SentimentModel, minilm: OnnxSentimentModel) -> None:
    model = vader if kind == "vader" else minilm
    assert isinstance(model, SentimentModel)
    texts = BULLISH + BEARISH + NEUTRAL
    probs = model.score(texts)
    _assert_probabilities(probs, len(texts))
    _assert_probabilities(model.score([]), 0)
    assert ((polarity(probs) >= -1) & (polarity(probs) <= 1)).all()
    with pytest.raises(SentimentInputError, match="not one string"):
        model.score("Acme beats estimates")
    with pytest.raises(SentimentInputError, match="#1 is int"):
        model.score(["fine", 3])  # type: ignore[list-item]


@pytest.mark.parametrize("kind", ["vader", "minilm"])
def test_scores_are_deterministic_and_nearly_independent_of_batching(
    kind: str, vader: SentimentModel, minilm: OnnxSentimentModel
) -> None:
    texts = BULLISH + BEARISH + NEUTRAL
    model = vader if kind == "vader" else minilm
    first = model.score(texts)
    np.testing.assert_array_equal(first, model.score(texts))
    one_by_one = np.concatenate([model.score([t]) for t in texts])
    # int8 dynamic quantisation scales activations per batch, so a text's probabilities move by up to ~0.01
    # with its batch-mates; its label does not (VADER scores text by text: exact).
    np.testing.assert_allclose(first, one_by_one, atol=0.03 if kind == "minilm" else 1e-9)
    assert _label_names(first) == _label_names(one_by_one)


def test_versions_name_the_model_and_its_weights(vader: SentimentModel, minilm: OnnxSentimentModel) -> None:
    from marketpulse.models.sentiment_finetune import unstamped_version

    assert re.fullmatch(r"vader-3\.3\.2-fin-[0-9a-f]{8}", vader.version)
    assert re.fullmatch(r"minilm-ft-[0-9a-f]{12}", minilm.version)
    # The version is the hash of the shipped graph and weights: a changed file cannot keep an old version.
    assert unstamped_version(DEFAULT_MODEL_PATH.read_bytes()) == minilm.version == minilm.meta["version"]
    assert minilm.meta["split"] == {
        "seed": 7,
        "validation_fraction": 0.2,
        "stratified": True,
        "fit_rows": minilm.meta["split"]["fit_rows"],
        "early_stopping_on": minilm.meta["split"]["early_stopping_on"],
        "dev_rows": minilm.meta["split"]["dev_rows"],
        "validation_rows": 1909,
    }
    assert DEFAULT_MODEL_PATH.stat().st_size < 40 * 2**20  # int8: a few tens of MB at most in the repository


def test_shipped_model_validation_accuracy_is_what_its_card_reports(minilm: OnnxSentimentModel) -> None:
    """Recomputes the shipped model's validation confusion matrix from the shared data; checks the recorded report.

    Issue 13 aimed at accuracy 0.87 / macro-F1 0.83; the shipped model reaches 0.854 / 0.807 (MODEL_CARD.md), so
    these floors guard against a worse model being shipped, not the aim.
    """
    recorded = minilm.meta["validation"]
    assert recorded["int8"]["accuracy"] >= 0.85
    assert recorded["int8"]["macro_f1"] >= 0.80
    assert recorded["fp32"]["accuracy"] - recorded["int8"]["accuracy"] <= 0.01
    for label in SENTIMENT_LABELS:  # better than the frozen-encoder model on every class
        assert recorded["int8"]["f1"][label] > recorded["frozen-head"]["f1"][label]
    if not TRAIN_CSV.is_file():
        pytest.skip(f"the shared training data is not beside this checkout ({TRAIN_CSV})")
    data = read_labelled_csv(TRAIN_CSV)
    _, rows = stratified_split(data.labels, 0.2, seed=7)
    measured = classification_metrics(data.labels[rows], minilm.score([data.texts[i] for i in rows]).argmax(axis=1))
    assert measured["confusion"] == recorded["int8"]["confusion"]
    assert measured["accuracy"] == pytest.approx(recorded["int8"]["accuracy"])


def test_robustness_set_of_other_styles(minilm: OnnxSentimentModel, vader: SentimentModel) -> None:
    probe = robustness_set()
    assert len(probe.texts) >= 60
    assert not any("$" in t or "http" in t for t in probe.texts)  # no cashtags, no links: not tweets
    ours = classification_metrics(probe.labels, minilm.score(probe.texts).argmax(axis=1))
    baseline = classification_metrics(probe.labels, vader.score(probe.texts).argmax(axis=1))
    assert ours["accuracy"] >= 0.85, ours
    assert ours["macro_f1"] > baseline["macro_f1"]
    assert ours == minilm.meta["probes"]["robustness"]["int8"]  # the model card reports what ships


@pytest.mark.parametrize("kind", ["vader", "minilm"])
def test_obvious_finance_headlines(kind: str, vader: SentimentModel, minilm: OnnxSentimentModel) -> None:
    model = vader if kind == "vader" else minilm
    assert _label_names(model.score(BULLISH)) == ["bullish"] * len(BULLISH)
    assert _label_names(model.score(BEARISH)) == ["bearish"] * len(BEARISH)
    assert (polarity(model.score(BULLISH)) > 0.3).all()
    assert (polarity(model.score(BEARISH)) < -0.3).all()
    assert (np.abs(polarity(model.score(NEUTRAL))) < 0.5).all()


def test_finance_terms_move_vader_where_plain_vader_is_blind() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped, unused-ignore]

    plain = SentimentIntensityAnalyzer()
    ours = LexiconSentimentModel()
    cases = [
        ("Acme downgraded, shares sink", -1),  # plain VADER: positive ("shares")
        ("Acme upgraded to overweight; analysts turn bullish", 1),  # plain VADER: negative
        ("Acme beats, raises guidance", 1),  # plain VADER: 0
    ]
    for text, sign in cases:
        assert np.sign(plain.polarity_scores(text)["compound"]) != sign
        assert np.sign(ours.compound([text])[0]) == sign


def test_shipped_model_loads_with_the_network_refused(
    network_attempts_while_loading: tuple[OnnxSentimentModel, list[object]],
) -> None:
    model, attempts = network_attempts_while_loading
    assert attempts == []  # nothing even tried to reach a hub
    assert model.score(["Acme beats estimates"]).shape == (1, 3)


def test_a_scoring_process_never_imports_torch() -> None:
    """The stream's workers load onnxruntime and tokenizers only: no torch, so hundreds of MB less per worker."""
    code = (
        "import sys\n"
        "from marketpulse.models.sentiment import load_sentiment_model\n"
        "model = load_sentiment_model('minilm')\n"
        "print(model.score(['Shares slump after the company cuts its outlook']).argmax())\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split("\n")[:2] == [str(SENTIMENT_LABELS.index("bearish")), "[]"]


def test_clear_errors_for_missing_or_broken_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SentimentInputError, match="unknown sentiment model kind 'bert'"):
        load_sentiment_model("bert")
    with pytest.raises(SentimentModelError, match="no fine-tuned sentiment model at"):
        load_sentiment_model("minilm", path=tmp_path / "absent.onnx")
    with pytest.raises(SentimentModelError, match="no sentiment head at"):
        load_sentiment_model("minilm-head", path=tmp_path / "absent.pt")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not an onnx file")
    with pytest.raises(SentimentModelError, match="not a readable ONNX sentiment model"):
        load_sentiment_model("minilm", path=corrupt)

    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real_find_spec(name)
    )
    with pytest.raises(SentimentModelError, match="onnxruntime"):
        load_sentiment_model("minilm")


def test_fallback_to_the_baseline_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, problem = load_with_fallback("minilm")
    assert problem is None
    assert model.version.startswith("minilm-ft-")
    monkeypatch.setattr("marketpulse.models.sentiment.DEFAULT_MODEL_PATH", tmp_path / "gone.onnx")
    model, problem = load_with_fallback("minilm")
    assert model.version.startswith("vader-")
    assert problem is not None
    assert "no fine-tuned sentiment model" in problem
