"""Live market-data providers (Finnhub, Alpaca) behind one interface, their Kafka sink, and local fakes.

Kept free of imports: config.py nests `providers.settings.ProviderSettings`, and importing the sink here
would import the producer, which imports config (a cycle). Import from the submodules:
`base` (MarketDataProvider, Backoff, Sink), `finnhub`, `alpaca`, `sink` (KafkaSink), `fakes`, `live`.
"""
