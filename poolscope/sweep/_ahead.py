"""The next step's sample service, started as soon as the current step's load is over: its
start-up overlaps the current step's settling and stopping, not its load, and the sweep
takes that much less time. A user's own service (--serve-cmd) is started only after the
last one stopped: a second copy might not share what the first holds (a port, files)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from poolscope.loadtest import LiveTotals, ManagedProcess, Reporter, Setting, start_service
from poolscope.readings import PoolSnapshot

__all__ = ["ServicesAhead"]


class ServicesAhead:
    """Services started ahead of their step, by pool size; ``settings_for`` says a step's
    ``poolscope serve`` settings (None: poolscope does not start that step's service)."""

    def __init__(
        self,
        settings_for: Callable[[int], Mapping[str, Setting] | None],
        *,
        driver: str,
        workers: int,
    ) -> None:
        self.settings_for = settings_for
        self.driver = driver
        self.workers = workers
        self.database_url: str | None = None
        self._services: dict[int, ManagedProcess] = {}
        self._workdir: Path | None = None

    def reporter(self, inner: Reporter, following: int | None) -> Reporter:
        """``inner``, also starting the ``following`` step's service when the load ends."""
        if following is None or self.settings_for(following) is None:
            return inner
        return _OnLoadEnd(inner, lambda: self._spawn(following))

    def spawned(self, value: int) -> ManagedProcess | None:
        return self._services.get(value)

    def _spawn(self, value: int) -> None:
        settings = self.settings_for(value)
        if settings is None or value in self._services:
            return
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="poolscope-sweep-"))
        self._services[value] = start_service(
            settings,
            driver=self.driver,
            workers=self.workers,
            database_url=self.database_url,
            workdir=self._workdir / f"pool-{value}",
        )

    def close(self) -> None:
        """Stop every service started here (played ones are stopped already: no harm)."""
        for service in self._services.values():
            service.stop(grace_seconds=10)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)


class _OnLoadEnd:
    """A reporter that also calls ``action`` once the load is over."""

    def __init__(self, inner: Reporter, action: Callable[[], None]) -> None:
        self.inner = inner
        self.action = action

    def note(self, message: str) -> None:
        self.inner.note(message)

    def started(self, scenario: str, variant: str, duration: float, host: str) -> None:
        self.inner.started(scenario, variant, duration, host)

    def update(self, elapsed: float, totals: LiveTotals, pool: PoolSnapshot | None) -> None:
        self.inner.update(elapsed, totals, pool)

    def load_ended(self) -> None:
        self.inner.load_ended()
        self.action()

    def finished(self) -> None:
        self.inner.finished()
