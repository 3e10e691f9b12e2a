"""The sample service names routes: /pool lists what is checked out, use_time is per route."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from poolscope import metrics as names
from poolscope._urls import DRIVERS
from poolscope.service import create_app
from poolscope.service._settings import ServiceSettings
from tests.support.in_process import started
from tests.support.waiting import wait_until_async


def use_time_counts(exposition: str) -> dict[str, float]:
    return {
        sample.labels[names.ROUTE_LABEL]: sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == f"{names.CONNECTION_USE_TIME}_count"
    }


async def leaked(client: httpx.AsyncClient, count: int) -> bool:
    """``/pool`` lists ``count`` connections past the leak threshold."""
    pool = (await client.get("/pool")).json()
    return bool(pool["leaked_connections"] == count)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_pool_lists_leaked_sessions_oldest_first_with_their_route(
    database_url: str, driver: str
) -> None:
    settings = ServiceSettings(
        database_url=SecretStr(database_url), driver=driver, pool_size=3, leak_threshold=0.3
    )
    async with started(create_app(settings)) as client:
        assert (await client.get("/items", params={"limit": 2})).status_code == 200
        for _ in range(2):
            assert (await client.get("/antipatterns/leak")).status_code == 200
            await asyncio.sleep(0.05)
        await wait_until_async(lambda: leaked(client, 2), timeout=10)  # past the threshold
        pool = (await client.get("/pool")).json()
        listed = pool["checked_out"]
        assert [entry["route"] for entry in listed] == ["/antipatterns/leak"] * 2
        assert listed[0]["age_seconds"] > listed[1]["age_seconds"] > 0.3
        assert all(entry["leaked"] for entry in listed)
        assert "leak_a_session" in listed[0]["borrower"]
        assert pool["leaked_connections"] == 2
        # Kept after one query: idle since, not in a statement, and says so in words.
        for entry in listed:
            assert not entry["in_statement"]
            assert entry["statements"] >= 1
            assert 0 < entry["statement_seconds"] < entry["age_seconds"] - entry["idle_seconds"]
            assert entry["idle_seconds"] > 0.3
            assert entry["summary"].startswith(f"held {entry['age_seconds']:.1f} s, ")
            assert f"idle {entry['idle_seconds']:.1f} s since " in entry["summary"]
            assert "leak_a_session" in entry["summary"]

        assert (await client.post("/antipatterns/leak/release")).json() == {"released": 2}
        pool = (await client.get("/pool")).json()
        assert (pool["checked_out"], pool["leaked_connections"]) == ([], 0)
        counts = use_time_counts((await client.get("/metrics")).text)
    # The startup seeding ran outside any request; every request checkout has its template.
    assert counts["/items"] == 1
    assert counts["/antipatterns/leak"] == 2


async def test_stack_capture_off_lists_leaks_without_a_borrower(database_url: str) -> None:
    settings = ServiceSettings(
        database_url=SecretStr(database_url), pool_size=2, leak_threshold=0.2, stack_capture="off"
    )
    async with started(create_app(settings)) as client:
        assert (await client.get("/antipatterns/leak")).status_code == 200
        await wait_until_async(lambda: leaked(client, 1), timeout=10)
        pool = (await client.get("/pool")).json()
        assert pool["stack_capture"] == "off"
        [listed] = pool["checked_out"]
        assert (listed["leaked"], listed["route"], listed["borrower"]) == (
            True,
            "/antipatterns/leak",
            "",
        )
        assert (await client.post("/antipatterns/leak/release")).json() == {"released": 1}
