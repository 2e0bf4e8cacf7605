"""One use case per task, wiring the core to the adapters; the handlers call exactly one of these."""
