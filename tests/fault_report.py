"""The run's fault-injection tally, one entry per scenario, printed at the end (conftest).

A module of its own so that conftest (imported by pytest as ``conftest``) and the tests
(which import ``tests.…``) share one list."""

from __future__ import annotations

# (files dropped, kills, lost, duplicated records, duplicated deliveries)
REPORTS: list[tuple[int, int, int, int, int]] = []
