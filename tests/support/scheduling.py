"""How pytest-xdist shares the suite out among its workers (``make test`` runs several).

Each test is a work unit of its own, but for the modules whose tests share a
module-scoped fixture (a played run, a started service, SQLAlchemy's own test runs): such a
module goes whole to one worker, so its fixture is built once, not once per worker.
"""

from __future__ import annotations

from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

TESTS = Path(__file__).resolve().parents[1]


def modules_sharing_a_fixture() -> frozenset[str]:
    """The test modules (``tests/...py``, as in a node id) that define a module-scoped
    fixture."""
    return frozenset(
        path.relative_to(TESTS.parent).as_posix()
        for path in TESTS.rglob("test_*.py")
        if 'scope="module"' in path.read_text()
    )


class ModuleFixtureScheduling(LoadScopeScheduling):
    """A unit per test, a unit per module for the modules that share a fixture."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.shared = modules_sharing_a_fixture()

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if module in self.shared else nodeid
