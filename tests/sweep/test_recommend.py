"""The sweep's recommendation from known step figures: which size, where throughput stops
rising, Little's law, and which resource ran out when no size meets the target."""

from __future__ import annotations

import pytest

from poolscope.sweep import Step, recommend, saturated_resource


def step(
    pool_size: int,
    throughput: float,
    wait_p95: float | None,
    *,
    users: int = 8,
    max_used: int | None = None,
    max_pending: int = 0,
    complete: bool = True,
    busy_threads: int | None = None,
    thread_limit: int | None = None,
) -> Step:
    return Step(
        pool_size=pool_size,
        users=users,
        run_file=f"pool-{pool_size}.json",
        complete=complete,
        incomplete_reason=None if complete else "interrupted",
        requests=round(throughput * 10),
        failures=0,
        throughput=throughput,
        latency_p50_ms=50.0,
        latency_p95_ms=80.0,
        wait_p50=None if wait_p95 is None else wait_p95 / 2,
        wait_p95=wait_p95,
        checkouts=round(throughput * 10),
        checkout_rate=throughput,
        mean_use=0.05,
        mean_used=min(pool_size, users) * 0.98,
        max_used=min(pool_size, users) if max_used is None else max_used,
        max_pending=max_pending,
        pool_limit=pool_size,
        timeouts=0,
        max_busy_threads=busy_threads,
        thread_limit=thread_limit,
    )


def test_doubling_throughput_recommends_the_largest_and_says_it_still_rises() -> None:
    steps = [step(1, 19.0, 0.4, max_pending=7), step(2, 38.0, 0.2), step(4, 76.0, 0.09)]
    result = recommend(steps, "pool_size", 0.25)
    assert result.recommended == 4
    assert result.best == 4
    assert result.plateau is None
    assert "still rising at 4" in result.text
    assert result.littles_law is not None
    assert result.littles_law.busy == pytest.approx(76.0 * 0.05)
    assert result.littles_law.measured_max_used == 4
    assert result.saturated is None


def test_the_smallest_near_best_size_under_the_target_and_the_plateau() -> None:
    steps = [
        step(1, 20.0, 0.4),
        step(2, 40.0, 0.2),
        step(4, 80.0, 0.06),  # near the best, but waits past the target
        step(8, 82.0, 0.01),
        step(16, 81.0, 0.005),
    ]
    result = recommend(steps, "pool_size", 0.05)
    assert result.recommended == 8
    assert result.best == 8
    assert result.plateau == 4
    assert "Throughput stops rising at 4 connections" in result.text
    assert "Recommended pool size: 8" in result.text
    assert "the pool was never full" not in result.text


def test_a_recommended_pool_never_full_says_so() -> None:
    steps = [
        step(4, 74.0, 0.09, max_pending=4),
        step(8, 136.0, 0.0, max_used=8),
        step(16, 144.0, 0.0, max_used=8),
    ]
    result = recommend(steps, "pool_size", 0.05)
    assert result.recommended == 16
    assert "At 16, at most 8 connections were in use at once" in result.text


def test_incomplete_steps_are_left_out() -> None:
    steps = [step(1, 20.0, 0.01), step(2, 200.0, 0.01, complete=False)]
    assert recommend(steps, "pool_size", 0.05).recommended == 1


def test_no_step_under_the_target_with_the_pool_full_blames_the_pool() -> None:
    steps = [step(1, 20.0, 0.4, max_pending=7), step(2, 40.0, 0.2, max_pending=6)]
    result = recommend(steps, "pool_size", 0.05)
    assert result.recommended is None
    assert result.saturated == "pool"
    assert "No pool size tried" in result.text
    assert "the pool looks saturated" in result.text


def test_threads_at_their_limit_with_connections_to_spare() -> None:
    steps = [
        step(8, 50.0, 0.2, max_used=5, busy_threads=40, thread_limit=40),
        step(16, 51.0, 0.2, max_used=5, busy_threads=40, thread_limit=40),
    ]
    assert saturated_resource(steps) == "threads"
    assert "threads look saturated" in recommend(steps, "pool_size", 0.05).text


def test_flat_throughput_with_the_pool_not_full_blames_the_database_or_cpu() -> None:
    steps = [step(4, 100.0, 0.2, max_used=3), step(8, 102.0, 0.2, max_used=3)]
    assert saturated_resource(steps) == "database/CPU"


def test_rising_throughput_with_nothing_full_names_no_resource() -> None:
    steps = [step(4, 50.0, 0.2, max_used=3), step(8, 90.0, 0.2, max_used=3)]
    result = recommend(steps, "pool_size", 0.05)
    assert result.saturated is None
    assert "no resource looks saturated" in result.text


def test_a_user_sweep_names_the_most_users_under_the_target() -> None:
    steps = [
        step(10, 40.0, 0.001, users=5),
        step(10, 80.0, 0.01, users=10),
        step(10, 120.0, 0.3, users=20, max_pending=10, max_used=10),
    ]
    result = recommend(steps, "users", 0.05)
    assert result.recommended == 10
    assert result.best == 20
    assert "up to 10 users" in result.text


def test_nothing_finished_recommends_nothing() -> None:
    result = recommend([step(1, 20.0, 0.01, complete=False)], "pool_size", 0.05)
    assert result.recommended is None
    assert result.text == "No step finished: nothing to recommend."


def test_connections_mostly_held_idle_get_no_bigger_pool() -> None:
    # The recorded held-idle across-call run (a real one): a session open across a 0.5 s
    # call. Doubling its pool doubles its throughput, yet the fix is in the code.
    from pathlib import Path

    from poolscope.loadtest import load_run
    from poolscope.sweep._figures import step_from_run

    [path] = (Path(__file__).parents[1] / "data" / "runs" / "held-idle").glob("*across-call*")
    held = step_from_run(load_run(path), path.name)
    assert held.mostly_held_idle
    assert held.busy_share is not None
    assert held.busy_share < 0.05
    doubled = held.model_copy(
        update={"pool_size": 8, "pool_limit": 8, "throughput": 2 * held.throughput}
    )
    recommendation = recommend([held, doubled], "pool_size", 0.5)
    assert recommendation.recommended is None
    assert recommendation.held_idle is not None
    assert recommendation.text.startswith(
        "No pool size recommended: connections were mostly held idle (in statements "
    )
    assert "/held-idle/across-call holds its connection" in recommendation.text
    assert "close or commit the session before the outside call" in recommendation.text
    # Busy connections at the same figures: the pool is recommended as before.
    busy = [s.model_copy(update={"mostly_held_idle": False}) for s in (held, doubled)]
    assert recommend(busy, "pool_size", 5.0).recommended == 8
