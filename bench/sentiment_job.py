"""How fast does the Spark sentiment job turn texts into stored scores and windows, against the model alone?

    .venv/bin/python -m bench.sentiment_job                          # own stack 'sentiment-bench' (ports +25000)
    .venv/bin/python -m bench.sentiment_job --stack-name test --offset 10000 --texts 1000 --model vader

Produces N replayed sample texts (`ingest text-replay`'s source) into fresh topics, runs the job once with
availableNow in one micro-batch (Spark start, Kafka read, contract rules, Arrow UDF scoring in the Python
workers, items to Cassandra and signals.sentiment, windows recomputed from Cassandra into every store), then
scores the same texts with the model alone in this process. Prints texts/s of both and their ratio, and
the peak resident memory of the driver, the JVM and the Python workers (sampled every 0.2 s while the job
runs; the workers are where the model lives). The machine is shared: compare ratios within one run, not
absolute numbers between runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import date

import psutil
from confluent_kafka import Producer

from marketpulse.config import Settings, StreamSettings
from marketpulse.contracts import to_wire
from marketpulse.contracts.text import NewsArticle, TextItem
from marketpulse.ingest.social.replay import TextReplaySource
from marketpulse.sections.text import SentimentSettings
from marketpulse.stack.instances import side_by_side_settings
from marketpulse.stack.manager import Stack


def _texts(count: int) -> list[TextItem]:
    texts: list[TextItem] = []
    for item in TextReplaySource(None, date(2013, 1, 2), None, texts_per_day=24):
        texts.append(item)
        if len(texts) >= count:
            break
    return texts


def _produce(settings: Settings, topics: tuple[str, str], texts: list[TextItem]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    for item in texts:
        topic = topics[1] if isinstance(item, NewsArticle) else topics[0]
        producer.produce(topic, key=item.symbols[0].encode(), value=to_wire(item))
    if producer.flush(60):
        raise SystemExit("Kafka did not acknowledge every text")


class RssSampler:
    """Peak RSS (MiB) of this process and its descendants while running, by role: driver, jvm, python workers."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self.peak: dict[str, float] = defaultdict(float)
        self.workers_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.every_s):
            totals: dict[str, float] = defaultdict(float)
            for process in [me, *me.children(recursive=True)]:
                try:
                    role = self._role(process, me)
                    rss = process.memory_info().rss / 2**20
                except psutil.Error:
                    continue  # a worker that just exited
                totals[role] += rss
                if role == "python workers":
                    self.workers_seen.add(process.pid)
                    self.peak["one python worker"] = max(self.peak["one python worker"], rss)
            for role, total in totals.items():
                self.peak[role] = max(self.peak[role], total)

    @staticmethod
    def _role(process: psutil.Process, me: psutil.Process) -> str:
        if process.pid == me.pid:
            return "driver"
        name = process.name()
        return "jvm" if name == "java" else "python workers" if name.startswith("python") else "other"


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("marketpulse.stream.sentiment_job").setLevel(logging.INFO)  # per-batch phase timings
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--model", choices=["minilm", "vader"], default="minilm")
    parser.add_argument("--stack-name", default="sentiment-bench")
    parser.add_argument("--offset", type=int, default=25000, help="Port offset of the stack instance.")
    parser.add_argument("--keep-stack", action="store_true", help="Leave a stack this run started running.")
    args = parser.parse_args()

    from marketpulse.models.sentiment import load_sentiment_model
    from marketpulse.stream.sentiment_job import start_sentiment_job
    from marketpulse.stream.session import spark_session

    settings = side_by_side_settings(args.stack_name, args.offset)
    stack = Stack(settings, progress=lambda message: print(f"[stack] {message}", flush=True))
    started_stack = not all(row.healthy for row in stack.status())
    if started_stack:
        stack.up()
    try:
        texts = _texts(args.texts)
        run = uuid.uuid4().hex[:8]
        topics = (f"bench.posts.{run}", f"bench.news.{run}")
        _produce(settings, topics, texts)
        job_settings = settings.model_copy(
            update={
                "stream": StreamSettings(checkpoint_root=tempfile.mkdtemp(prefix="sentiment-bench-")),
                "sentiment": SentimentSettings(model=args.model, max_offsets_per_trigger=len(texts)),
            }
        )
        print(f"load average before: {os.getloadavg()[0]:.2f}; {len(texts):,} texts, model {args.model}")
        spark = spark_session(job_settings, "marketpulse-sentiment-bench")
        try:
            began = time.perf_counter()
            with RssSampler() as rss:
                query, sinks = start_sentiment_job(
                    spark, job_settings, available_now=True, topics=topics, scores_topic=f"bench.scores.{run}"
                )
                try:
                    query.awaitTermination()
                finally:
                    sinks.close()
            job_s = time.perf_counter() - began
        finally:
            spark.stop()
        model = load_sentiment_model(args.model, threads=1)
        began = time.perf_counter()
        model.score([item.text for item in texts])
        model_s = time.perf_counter() - began
        print(
            f"job:   {job_s:7.1f} s  {len(texts) / job_s:8.0f} texts/s  (Spark + workers' model load + every store)\n"
            f"model: {model_s:7.1f} s  {len(texts) / model_s:8.0f} texts/s  (one thread, this process)\n"
            f"job time / model time: {job_s / model_s:.2f}; load average after: {os.getloadavg()[0]:.2f}"
        )
        print(
            "peak RSS (MiB): "
            + ", ".join(f"{role} {mib:.0f}" for role, mib in sorted(rss.peak.items()))
            + f" ({len(rss.workers_seen)} python worker processes seen)"
        )
    finally:
        if started_stack and not args.keep_stack:
            stack.down()


if __name__ == "__main__":
    main()
