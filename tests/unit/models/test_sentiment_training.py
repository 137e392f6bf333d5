"""Training the sentiment models: data reading, the split, metrics, the frozen-encoder head, and fine-tuning
end to end (train, export to ONNX, quantise, stamp, load) on a small slice of the real data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketpulse.models.sentiment import SENTIMENT_LABELS, SentimentInputError, load_sentiment_model
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
TRAIN_CSV = Path(__file__).resolve().parents[4] / "shared" / "data" / "sentiment" / "twitter_financial_news_train.csv"


def _assert_probabilities(probs: np.ndarray[Any, Any], n: int) -> None:
    assert probs.shape == (n, 3)
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


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
    assert m["precision"] == pytest.approx({"bearish": 0.5, "neutral": 2 / 3, "bullish": 1.0})
    assert m["recall"] == pytest.approx({"bearish": 0.5, "neutral": 1.0, "bullish": 0.5})
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_cashtags_are_stripped_for_headline_style_training_texts() -> None:
    from marketpulse.models.sentiment_finetune import strip_cashtags

    assert strip_cashtags("$AAPL beats, $BRK.B flat; costs $5 more") == "AAPL beats, BRK.B flat; costs $5 more"


@pytest.fixture(scope="module")
def real_slice() -> LabelledTexts:
    """A stratified 360-row slice of the real training CSV."""
    if not TRAIN_CSV.is_file():
        pytest.skip(f"the shared training data is not beside this checkout ({TRAIN_CSV})")
    full = read_labelled_csv(TRAIN_CSV)
    _, rows = stratified_split(full.labels, 360 / len(full.texts), seed=5)
    return LabelledTexts([full.texts[i] for i in rows], full.labels[rows], full.source)


@pytest.mark.slow
def test_finetuning_end_to_end_on_a_slice(real_slice: LabelledTexts, tmp_path: Path) -> None:
    """Fine-tune a few steps, export, quantise, stamp and load: the pipeline `train sentiment --finetune` runs."""
    import onnxruntime as ort  # type: ignore[import-untyped, unused-ignore]
    import torch

    from marketpulse.models.sentiment_finetune import (
        FinetuneConfig,
        export_int8,
        finetune,
        finetune_and_export,
        predict,
        unstamped_version,
    )
    from marketpulse.models.sentiment_onnx import encode, load_tokenizer
    from marketpulse.models.sentiment_training import robustness_set

    config = FinetuneConfig(epochs=2, batch_size=16, max_length=32, max_steps=24, dev_fraction=0.1, max_int8_drop=1.0)
    epochs: list[dict[str, Any]] = []
    result = finetune_and_export(
        real_slice,
        seed=3,
        validation_fraction=0.25,
        config=config,
        baselines={"vader": load_sentiment_model("vader")},
        probe_sets={"robustness": robustness_set()},
        on_epoch=epochs.append,
        checkpoint=tmp_path / "checkpoint.pt",
    )
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"] < 1.2  # it learns (chance is ln 3 = 1.10)
    assert (tmp_path / "checkpoint.pt").is_file()
    split = result.meta["split"]
    assert split["validation_rows"] == 90
    assert split["fit_rows"] + split["dev_rows"] == 270
    assert split["early_stopping_on"] == "dev"
    assert set(result.meta["validation"]) == {"fp32", "int8", "vader"}
    assert set(result.meta["probes"]["robustness"]) == {"int8", "vader"}

    # The written file loads through the public interface, carries its version, and scores.
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(result.onnx)
    model = load_sentiment_model("minilm", path=model_file)
    assert model.version == result.version == unstamped_version(result.onnx)
    _assert_probabilities(model.score(real_slice.texts[:5]), 5)

    # The exported graph computes what the torch model computes, on a padded batch of different lengths.
    torch.manual_seed(0)
    dev = LabelledTexts(real_slice.texts[:16], real_slice.labels[:16], real_slice.source)
    trained, _ = finetune(real_slice, dev, FinetuneConfig(epochs=1, max_steps=2, max_length=32), seed=3)
    export_int8(trained, config.dropout, tmp_path)
    texts = ["Acme beats", "Shares slump after the company cuts its outlook for the rest of the year"]
    ids, mask = encode(load_tokenizer(32), texts)
    assert mask[0].sum() < mask[1].sum()  # the first text is padded
    session = ort.InferenceSession(str(tmp_path / "sentiment.fp32.onnx"), providers=["CPUExecutionProvider"])
    exported = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    np.testing.assert_allclose(exported, predict(trained, load_tokenizer(32), texts), atol=1e-4)


@pytest.mark.slow
def test_frozen_head_training_on_real_data_beats_shuffled_labels(real_slice: LabelledTexts, tmp_path: Path) -> None:
    frozen = load_sentiment_model("minilm-head", threads=1)
    assert isinstance(frozen, MiniLMSentimentModel)
    config = HeadConfig(hidden=64, epochs=30, batch_size=32)

    def train() -> TrainingResult:
        return train_sentiment(
            real_slice, frozen.encoder, seed=1, validation_fraction=0.34, config=config, cache_dir=tmp_path
        )

    result = train()
    learned = result.metrics["minilm"]
    assert result.meta["split"]["validation_rows"] == pytest.approx(0.34 * 360, abs=2)
    assert list(tmp_path.glob("sentiment-embeddings-*.npy"))  # embeddings cached for the next run

    # Control: the same pipeline, the training labels shuffled; only real labels carry signal.
    x = cached_embeddings(frozen.encoder, real_slice.texts, tmp_path)
    train_rows, val_rows = stratified_split(real_slice.labels, 0.34, seed=1)
    shuffled = np.random.default_rng(0).permutation(real_slice.labels[train_rows])
    control = fit_head(x[train_rows], shuffled, config, seed=1)
    chance = classification_metrics(real_slice.labels[val_rows], head_predictions(control, x[val_rows]).argmax(axis=1))
    assert learned["macro_f1"] > chance["macro_f1"] + 0.15, (learned, chance)
    assert learned["accuracy"] > chance["accuracy"]

    # The written head loads through the public interface and scores like the head that was trained.
    head_file = tmp_path / "head.pt"
    head_file.write_bytes(result.weights)
    reloaded = MiniLMSentimentModel.load(head_file, encoder=frozen.encoder)
    assert read_head(train().weights, "retrained")[2] == reloaded.version  # same data and seed, same weights
    _assert_probabilities(reloaded.score(real_slice.texts[:5]), 5)
