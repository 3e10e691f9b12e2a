"""The recommendation, from the steps' figures alone (pure functions, no I/O).

- Pool-size sweeps recommend the smallest size whose throughput is within ``NEAR_BEST`` of
  the best step's and whose pool wait p95 is under the target; user sweeps name the most
  users whose wait p95 is under the target.
- The plateau is the smallest step already within ``NEAR_BEST`` of the best: past it,
  throughput stops rising. When that is the largest step tried, it is still rising.
- Little's law at the best step: L = λ·W connections are busy on average, beside the
  measured gauge.
- When no step meets the target, the largest step tells which resource ran out.
- When connections were mostly held idle (a route keeps its session across an outside
  call), no pool size is recommended: a bigger pool only hides it, and the text says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from poolscope.readings import NO_DATA, format_share
from poolscope.sweep._model import LittlesLaw, Parameter, Recommendation, Resource, Step

__all__ = ["NEAR_BEST", "recommend", "saturated_resource"]

NEAR_BEST = 0.05  # a throughput this close to the best counts as the best


def _ms(seconds: float | None) -> str:
    return NO_DATA if seconds is None else f"{seconds * 1000:.0f} ms"


def _meets_target(step: Step, target: float) -> bool:
    # No wait p95 means no checkout at all (or a target without pool metrics): unknown.
    return step.wait_p95 is not None and step.wait_p95 < target


def _is_flat(steps: Sequence[Step]) -> bool:
    """Whether the largest step gained less than NEAR_BEST over the one before it."""
    if len(steps) < 2:
        return False
    before, last = steps[-2], steps[-1]
    return last.throughput < (1 + NEAR_BEST) * before.throughput


def saturated_resource(steps: Sequence[Step]) -> Resource | None:
    """What ran out at the largest step: the pool (callers waited with every connection
    in use), the threads (sync routes' thread limit reached), or the database/CPU
    (throughput flat while the pool was not full). None when nothing clearly did."""
    if not steps:
        return None
    last = steps[-1]
    if last.max_pending > 0 and last.max_used >= last.pool_limit:
        return "pool"
    if (
        last.max_busy_threads is not None
        and last.thread_limit is not None
        and last.max_busy_threads >= last.thread_limit
    ):
        return "threads"
    if _is_flat(steps) and last.max_used < last.pool_limit:
        return "database/CPU"
    return None


def _littles_law(step: Step) -> LittlesLaw | None:
    busy = step.littles_busy
    if busy is None or step.checkout_rate is None or step.mean_use is None:
        return None
    return LittlesLaw(
        pool_size=step.pool_size,
        users=step.users,
        checkout_rate=step.checkout_rate,
        mean_use=step.mean_use,
        busy=busy,
        measured_mean_used=step.mean_used,
        measured_max_used=step.max_used,
    )


_SATURATION_TEXT: dict[Resource, str] = {
    "pool": "the pool looks saturated: callers waited while every connection was in use",
    "threads": "the threads look saturated: the sync routes' thread limit was reached",
    "database/CPU": (
        "the database or the CPU looks saturated: throughput stayed flat while the pool "
        "was not full"
    ),
}


def recommend(
    steps: Sequence[Step], parameter: Parameter, target_wait_p95: float
) -> Recommendation:
    """The recommendation over the complete steps (incomplete ones are left out)."""
    noun = "pool size" if parameter == "pool_size" else "user count"
    done = sorted((s for s in steps if s.complete), key=lambda s: s.value(parameter))
    target = _ms(target_wait_p95)
    if not done:
        return Recommendation(
            parameter=parameter,
            target_wait_p95=target_wait_p95,
            recommended=None,
            best=None,
            plateau=None,
            littles_law=None,
            saturated=None,
            text="No step finished: nothing to recommend.",
        )
    best = max(done, key=lambda s: s.throughput)
    near_best = [s for s in done if s.throughput >= (1 - NEAR_BEST) * best.throughput]
    plateau_step = near_best[0]
    plateau = None if plateau_step is done[-1] else plateau_step
    meeting = [s for s in done if _meets_target(s, target_wait_p95)]
    if parameter == "pool_size":
        candidates = [s for s in near_best if _meets_target(s, target_wait_p95)]
        chosen = candidates[0] if candidates else None
    else:
        chosen = meeting[-1] if meeting else None
    idle_step = next((s for s in done if s.mostly_held_idle), None)
    held_idle = None
    if idle_step is not None and parameter == "pool_size":
        held_idle = _held_idle_text(idle_step)
        chosen = None
    saturated = None if chosen is not None else saturated_resource(done)
    sentences: list[str] = [] if held_idle is None else [held_idle]
    if chosen is not None and parameter == "pool_size":
        sentences.append(
            f"Recommended pool size: {chosen.pool_size}, the smallest whose throughput "
            f"({chosen.throughput:.1f} req/s) is within {NEAR_BEST * 100:.0f} % of the best "
            f"({best.throughput:.1f} req/s at {best.pool_size}) with a pool wait p95 "
            f"(≈ {_ms(chosen.wait_p95)}) under the {target} target."
        )
        if chosen.max_used < chosen.pool_limit:
            sentences.append(
                f"At {chosen.pool_size}, at most {chosen.max_used} connections were in use at "
                f"once: the pool was never full, and a pool of {chosen.max_used} may serve as well."
            )
    elif chosen is not None:
        sentences.append(
            f"With {chosen.pool_size} connections, up to {chosen.users} users keep the pool "
            f"wait p95 (≈ {_ms(chosen.wait_p95)}) under the {target} target "
            f"({chosen.throughput:.1f} req/s)."
        )
    elif held_idle is None:
        reason = _SATURATION_TEXT[saturated] if saturated else "no resource looks saturated"
        if parameter == "pool_size":
            sentences.append(
                f"No pool size tried reaches near-best throughput with a pool wait p95 under "
                f"the {target} target; at {done[-1].pool_size} connections {reason}."
            )
        else:
            sentences.append(
                f"No user count tried keeps the pool wait p95 under the {target} target; "
                f"at {done[-1].users} users {reason}."
            )
    if plateau is not None:
        sentences.append(
            f"Throughput stops rising at {plateau.value(parameter)} "
            f"{'connections' if parameter == 'pool_size' else 'users'} "
            f"({plateau.throughput:.1f} req/s; the best is {best.throughput:.1f})."
        )
    elif len(done) > 1:
        sentences.append(
            f"Throughput was still rising at {done[-1].value(parameter)}, the largest "
            f"{noun} tried: larger ones may serve more."
        )
    littles = _littles_law(best)
    if littles is not None:
        measured = (
            f"mean {littles.measured_mean_used:.2f} from the sampled gauge, "
            if littles.measured_mean_used is not None
            else ""
        )
        sentences.append(
            f"Little's law at {best.pool_size} connections and {best.users} users: "
            f"λ = {littles.checkout_rate:.1f} checkouts/s × W = "
            f"{littles.mean_use * 1000:.1f} ms held "
            f"gives L ≈ {littles.busy:.2f} connections busy on average "
            f"(measured: {measured}max {littles.measured_max_used} used)."
        )
    return Recommendation(
        parameter=parameter,
        target_wait_p95=target_wait_p95,
        recommended=chosen.value(parameter) if chosen is not None else None,
        best=best.value(parameter),
        plateau=plateau.value(parameter) if plateau is not None else None,
        littles_law=littles,
        saturated=saturated,
        text=" ".join(sentences),
        held_idle=held_idle,
    )


def _held_idle_text(step: Step) -> str:
    share = format_share(step.busy_share)
    cause = f" {step.held_idle}." if step.held_idle else ""
    return (
        f"No pool size recommended: connections were mostly held idle (in statements "
        f"{share} of the time they were out at {step.pool_size} connections), and a bigger "
        f"pool only hides that.{cause}"
    )
