"""The lexicon baseline: VADER with finance terms, mapped to (bearish, neutral, bullish) probabilities.

VADER scores general English; headlines such as "X downgraded to sell" or "Y beats estimates" carry no
valence in its lexicon. We add single finance words to its lexicon, and rewrite multi-word finance
phrases ("guidance cut", "price target raised") into one token each, because VADER scores word by word.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from marketpulse.models.sentiment import clean_texts

VADER_VERSION = "3.3.2"

# Valences on VADER's scale (-4 .. +4); its own lexicon has e.g. "good" 1.9, "great" 3.1, "fraud" -2.8.
FINANCE_WORDS: dict[str, float] = {
    "bullish": 2.5,
    "bull": 1.5,
    "bulls": 1.5,
    "bearish": -2.5,
    "bear": -1.5,
    "bears": -1.5,
    "upgrade": 2.0,
    "upgrades": 2.0,
    "upgraded": 2.0,
    "downgrade": -2.0,
    "downgrades": -2.0,
    "downgraded": -2.0,
    "outperform": 2.0,
    "outperforms": 2.0,
    "outperformed": 2.0,
    "underperform": -2.0,
    "underperforms": -2.0,
    "underperformed": -2.0,
    "overweight": 1.5,
    "underweight": -1.5,
    "beat": 1.8,
    "beats": 1.8,
    "tops": 1.8,
    "topped": 1.8,
    "miss": -1.8,
    "misses": -1.8,
    "missed": -1.8,
    "surge": 2.2,
    "surges": 2.2,
    "surged": 2.2,
    "soar": 2.3,
    "soars": 2.3,
    "soared": 2.3,
    "rally": 2.0,
    "rallies": 2.0,
    "rallied": 2.0,
    "jump": 1.6,
    "jumps": 1.6,
    "jumped": 1.6,
    "climb": 1.4,
    "climbs": 1.4,
    "climbed": 1.4,
    "rise": 1.2,
    "rises": 1.2,
    "rose": 1.2,
    "gain": 1.6,
    "gains": 1.6,
    "gained": 1.6,
    "rebound": 1.5,
    "rebounds": 1.5,
    "upbeat": 1.8,
    "buyback": 1.5,
    "plunge": -2.5,
    "plunges": -2.5,
    "plunged": -2.5,
    "tumble": -2.3,
    "tumbles": -2.3,
    "tumbled": -2.3,
    "slump": -2.2,
    "slumps": -2.2,
    "slumped": -2.2,
    "sink": -1.8,
    "sinks": -1.8,
    "sank": -1.8,
    "slide": -1.5,
    "slides": -1.5,
    "slid": -1.5,
    "fall": -1.4,
    "falls": -1.4,
    "fell": -1.4,
    "drop": -1.4,
    "drops": -1.4,
    "dropped": -1.4,
    "decline": -1.4,
    "declines": -1.4,
    "declined": -1.4,
    "selloff": -2.2,
    "sell-off": -2.2,
    "rout": -2.5,
    "layoffs": -2.0,
    "bankruptcy": -3.0,
    "default": -2.0,
    "probe": -1.2,
    "recall": -1.4,
    "shortfall": -1.8,
    "headwinds": -1.5,
    "tailwinds": 1.5,
}

# Phrases VADER would split into neutral words; each becomes one token with its own valence.
FINANCE_PHRASES: dict[str, float] = {
    "guidance cut": -2.5,
    "cuts guidance": -2.5,
    "cut guidance": -2.5,
    "lowers guidance": -2.5,
    "lowered guidance": -2.5,
    "raises guidance": 2.5,
    "raised guidance": 2.5,
    "price target raised": 2.0,
    "raises price target": 2.0,
    "raised price target": 2.0,
    "price target cut": -2.0,
    "cuts price target": -2.0,
    "lowers price target": -2.0,
    "profit warning": -2.5,
    "beats estimates": 2.0,
    "beat estimates": 2.0,
    "misses estimates": -2.0,
    "missed estimates": -2.0,
    "all-time high": 2.0,
    "record high": 2.0,
    "52-week high": 1.5,
    "52-week low": -1.5,
    "short squeeze": 1.5,
}

# VADER's own convention: |compound| < 0.05 is neutral. The softmax below keeps that decision boundary
# (SHARPNESS * 0.05 == NEUTRAL_LOGIT) and turns the compound score into smooth probabilities.
NEUTRAL_BAND = 0.05
SHARPNESS = 30.0
NEUTRAL_LOGIT = SHARPNESS * NEUTRAL_BAND


def _phrase_token(phrase: str) -> str:
    return "fin_" + re.sub(r"[^a-z0-9]+", "_", phrase)


_PHRASE_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(FINANCE_PHRASES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def lexicon_version() -> str:
    """A short digest of the finance additions, so a changed lexicon is a new model version."""
    payload = json.dumps([FINANCE_WORDS, FINANCE_PHRASES], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:8]


def compound_to_probabilities(compound: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
    """Map VADER compound scores in [-1, 1] to (bearish, neutral, bullish) probabilities."""
    logits = np.stack([-SHARPNESS * compound, np.full_like(compound, NEUTRAL_LOGIT), SHARPNESS * compound], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


class LexiconSentimentModel:
    """VADER 3.3.2 plus finance words and phrases; deterministic, no weights, about 1 ms per headline."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped, unused-ignore]
            SentimentIntensityAnalyzer,
        )

        self._analyzer = SentimentIntensityAnalyzer()
        self._analyzer.lexicon.update(FINANCE_WORDS)
        self._analyzer.lexicon.update({_phrase_token(p): v for p, v in FINANCE_PHRASES.items()})
        self.version = f"vader-{VADER_VERSION}-fin-{lexicon_version()}"

    def compound(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """VADER's compound score in [-1, 1] for each text, after the finance phrase rewrite."""
        rewritten = [_PHRASE_PATTERN.sub(lambda m: _phrase_token(m.group(0).lower()), t) for t in clean_texts(texts)]
        return np.array([self._analyzer.polarity_scores(t)["compound"] for t in rewritten], dtype=np.float64)

    def score(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """(n, 3) probabilities in SENTIMENT_LABELS order."""
        return compound_to_probabilities(self.compound(texts))
