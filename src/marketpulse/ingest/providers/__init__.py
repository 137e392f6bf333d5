"""Live market-data providers (Finnhub, Alpaca) behind one interface, their Kafka sink, and local fakes.

Import from the submodules: `base` (MarketDataProvider, Backoff, Sink, ProviderSpec), `finnhub` and `alpaca`
(each provider, its fake and its registry entry `SPEC`), `sink` (KafkaSink), `fakes` (the shared fake
machinery), `live` (the registry `PROVIDERS` and `run_live`). Their settings are `sections.providers`.
"""
