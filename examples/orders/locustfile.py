"""Load for the example orders service: customers read orders, back office reads reports."""

from __future__ import annotations

import random

from locust import FastHttpUser, constant, task

import poolscope.locust  # noqa: F401  (the Pool tab in Locust's web UI)


class Customer(FastHttpUser):
    """Most of its time is spent in the slow report, holding a pooled connection."""

    wait_time = constant(0)

    @task(1)
    def order(self) -> None:
        self.client.get(f"/orders/{random.randint(1, 1000)}", name="/orders/{order_id}")

    @task(1)
    def customer_orders(self) -> None:
        customer = f"customer-{random.randint(0, 49)}"
        self.client.get(f"/customers/{customer}/orders", name="/customers/{customer}/orders")

    @task(4)
    def revenue(self) -> None:
        self.client.get("/reports/revenue")
