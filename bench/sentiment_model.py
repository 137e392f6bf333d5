"""How fast do the sentiment models score on one CPU core, and how much memory does a scoring process hold?

    .venv/bin/python -m bench.sentiment_model                      # 1,000 real tweets, every model, 1 thread
    .venv/bin/python -m bench.sentiment_model --items 3000 --kinds minilm,vader --batch-size 64

Each model runs in a fresh Python process (as a Spark Python worker would): import, load, one warm-up batch,
then one `score` call over the same N texts (the first N of the training CSV, or built-in headlines if it is
absent). Prints items/s, CPU-seconds per 1,000 items, the RSS after loading and the peak RSS of that
process, and whether torch was imported. The machine is shared: the load average before and after is
printed, and only ratios within one run are worth comparing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
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


def _rss_mib() -> float:
    """Resident set size of this process now, in MiB (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_one(kind: str, data: Path, items: int, threads: int, batch_size: int) -> dict[str, object]:
    """Load `kind` in this process and score `items` texts once; what the parent prints."""
    texts, _ = _texts(data, items)
    started = time.perf_counter()
    from marketpulse.models.sentiment import load_sentiment_model

    model = load_sentiment_model(kind, threads=threads, batch_size=batch_size)
    model.score(texts[:batch_size])  # warm-up: first-call allocations are not throughput
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mib()
    cpu, wall = time.process_time(), time.perf_counter()
    model.score(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "kind": kind,
        "version": model.version,
        "items_per_s": len(texts) / wall,
        "cpu_s_per_1k": 1000 * cpu / len(texts),
        "load_s": load_s,
        "rss_loaded_mib": rss_loaded,
        "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_imported": "torch" in sys.modules,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV with a text column")
    parser.add_argument("--items", type=int, default=1000, help="texts to score per measurement")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of the model")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per model call inside score()")
    parser.add_argument("--kinds", default="vader,minilm,minilm-head", help="models to measure, in order")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one kind in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.data, args.items, args.threads, args.batch_size)))
        return

    _, described = _texts(args.data, args.items)
    print(f"{described}; {args.threads} thread(s); batch {args.batch_size}; load average {os.getloadavg()[0]:.2f}")
    header = f"{'model':<30} {'items/s':>8} {'CPU-s/1k':>9} {'load s':>7} {'RSS MiB':>8} {'peak MiB':>9} torch"
    print(header)
    for kind in args.kinds.split(","):
        command = [sys.executable, "-m", "bench.sentiment_model", "--one", kind, "--data", str(args.data)]
        command += ["--items", str(args.items), "--threads", str(args.threads), "--batch-size", str(args.batch_size)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{r['version']:<30} {r['items_per_s']:>8.1f} {r['cpu_s_per_1k']:>9.2f} {r['load_s']:>7.1f} "
            f"{r['rss_loaded_mib']:>8.0f} {r['rss_peak_mib']:>9.0f} {'yes' if r['torch_imported'] else 'no'}"
        )
    print(f"load average after {os.getloadavg()[0]:.2f} (2 cores; other jobs share them)")


if __name__ == "__main__":
    main()
