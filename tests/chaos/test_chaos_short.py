"""The short chaos run (Plan.short) inside the test command: faults of every kind, zero violations.

Slow by design (about a minute on 2 cores): it starts a PostgreSQL cluster of its own, a
Mosquitto, two gateway processes and the emulated lockers; `python -m bench.chaos --long`
is the long form.
"""

from __future__ import annotations

import pytest

from tests.chaos.runner import Plan, run
from tests.support.postgres_cluster import PostgresMissing, require_binaries
from tests.support.requirements import missing

pytestmark = pytest.mark.postgres


async def test_short_chaos_run_holds_every_invariant() -> None:
    try:
        require_binaries()
    except PostgresMissing as err:
        missing("postgres", str(err))
    report = await run(Plan.short())
    print("\n".join(report.lines()))
    assert report.faults["gateway SIGKILL"] == Plan.short().kills
    assert report.completed > 0, "no lifecycle completed: the run proves nothing"
    assert not report.violations, "\n".join(report.lines())
