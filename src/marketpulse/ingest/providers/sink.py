"""The Kafka sink of a provider: valid ticks to a topic keyed by symbol, everything else to `<topic>.dlq`."""

from __future__ import annotations

from marketpulse.contracts import ContractError, Tick, Topics, to_wire
from marketpulse.ingest import metrics
from marketpulse.ingest.producer import EventProducer


class KafkaSink:
    """A provider Sink backed by an EventProducer (topic is a parameter so tests can use their own)."""

    def __init__(self, producer: EventProducer, source: str, topic: str = Topics.TICKS) -> None:
        self.producer = producer
        self.source = source
        self.topic = topic
        self.sent = 0
        self.rejected = 0

    def __call__(self, tick: Tick | None, raw: bytes, reason: str | None) -> None:
        """Send one provider message: the tick in wire form, or the original bytes with the reason."""
        metrics.EVENTS_IN.labels(self.source).inc()
        if tick is None:
            self._reject(raw, reason or "provider message is not a tick")
            return
        try:
            self.producer.sequence.check(tick)
        except ContractError as exc:
            self._reject(to_wire(tick), str(exc), tick.symbol)
            return
        self.producer.send(self.topic, tick)
        self.sent += 1
        metrics.SOURCE_LAST_EVENT.labels(self.source).set_to_current_time()

    def _reject(self, raw: bytes, reason: str, symbol: str | None = None) -> None:
        self.producer.reject(self.topic, raw, reason, key=symbol.encode() if symbol else None)
        self.rejected += 1
