"""Locust scenarios that load the sample service; one module per scenario."""
