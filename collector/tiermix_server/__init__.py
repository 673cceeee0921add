"""tiermix server: OTLP collector, query API, alert evaluator and CLI (``pip install "tiermix[server]"``)."""
