"""The counting proxy of the benchmarks: the tests' fault proxy (tests/helpers/faultproxy.py)
with no faults set. It counts requests and bytes per client run, and requests per kind."""

from __future__ import annotations

from tests.helpers.faultproxy import Counts, FaultProxy

CountingProxy = FaultProxy

__all__ = ["CountingProxy", "Counts"]
