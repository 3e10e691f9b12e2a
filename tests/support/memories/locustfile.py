"""Load for the memories service: writes that call the LLM, reads that only query."""

from __future__ import annotations

import random

from locust import FastHttpUser, constant, task

import poolscope.locust  # noqa: F401  (the Pool tab in Locust's web UI)


class MemoryUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def create(self) -> None:
        self.client.post("/memories")

    @task
    def read(self) -> None:
        self.client.get(f"/memories/{random.randint(1, 100)}", name="/memories/{memory_id}")
