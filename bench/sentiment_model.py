"""How fast do the sentiment models score, on this machine's CPU, in one run?

    .venv/bin/python -m bench.sentiment_model                 # 1,000 real tweets, torch on 2 threads
    .venv/bin/python -m bench.sentiment_model --items 3000 --threads 1 --batch-sizes 32,128

Scores the same texts (the first N of the training CSV, or built-in headlines if it is absent) with the
VADER baseline and the MiniLM model at each batch size, after one warm-up batch, and prints items/s,
CPU-seconds per 1,000 items (this process) and the ratio MiniLM/VADER. The machine is shared: the
load average before and after is printed, and only ratios within one run are worth comparing.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Read by path from the shared data folder beside the checkout.
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/sentiment/twitter_financial_news_train.csv"
FALLBACK = [
    "Acme beats estimates and raises guidance",
    "Acme downgraded to sell, shares plunge",
    "Acme to hold its annual shareholder meeting on December 5",
    "$ACME up 4% premarket after FDA approval of its lead drug https://t.co/xyz",
]


def _texts(path: Path, n: int) -> tuple[list[str], str]:
    if path.is_file():
        from marketpulse.models.sentiment_training import read_labelled_csv

        texts = read_labelled_csv(path).texts
        return (texts * (n // len(texts) + 1))[:n], f"first {n:,} texts of {path.name}"
    return (FALLBACK * (n // len(FALLBACK) + 1))[:n], f"{n:,} built-in headlines ({path} absent)"


def _measure(score: Callable[[Sequence[str]], object], texts: list[str]) -> tuple[float, float]:
    """(items/s, CPU-seconds per 1,000 items) for one call over all texts, after a warm-up."""
    score(texts[:16])
    cpu, wall = time.process_time(), time.perf_counter()
    score(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(texts) / wall, 1000 * cpu / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV with a text column")
    parser.add_argument("--items", type=int, default=1000, help="texts to score per measurement")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--batch-sizes", default="32,128", help="MiniLM batch sizes to measure")
    args = parser.parse_args()

    from marketpulse.models.sentiment import load_sentiment_model
    from marketpulse.models.sentiment_minilm import MiniLMSentimentModel

    texts, described = _texts(args.data, args.items)
    print(f"{described}; torch threads {args.threads}; load average before {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    vader = load_sentiment_model("vader")
    print(f"loaded {vader.version} in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    minilm = load_sentiment_model("minilm", torch_threads=args.threads)
    assert isinstance(minilm, MiniLMSentimentModel)
    print(f"loaded {minilm.version} in {time.perf_counter() - started:.1f}s (imports included)")

    base_rate, base_cpu = _measure(vader.score, texts)
    print(f"{'model':<34} {'items/s':>9} {'CPU-s/1k':>9} {'vs VADER':>9}")
    print(f"{vader.version:<34} {base_rate:>9.1f} {base_cpu:>9.2f} {1.0:>9.3f}")
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        minilm.batch_size = batch_size
        rate, cpu = _measure(minilm.score, texts)
        name = f"{minilm.version} batch {batch_size}"
        print(f"{name:<34} {rate:>9.1f} {cpu:>9.2f} {rate / base_rate:>9.3f}")
    print(f"load average after {os.getloadavg()[0]:.2f} (2 cores; other jobs share them)")


if __name__ == "__main__":
    main()
