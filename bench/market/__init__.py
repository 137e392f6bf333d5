"""Parts of the market pipeline benchmark (`python -m bench.market_pipeline`), one module per concern."""
