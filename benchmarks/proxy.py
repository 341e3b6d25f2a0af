"""The counting proxy of the benchmarks: the tests' fault proxy (tests/helpers/faultproxy.py)
with no faults set. It counts requests and bytes per client run, and requests per kind."""

from __future__ import annotations

from tests.helpers.faultproxy import Counts, FaultProxy

CountingProxy = FaultProxy
FAR = 0.02   # seconds each request waits in the proxy for the rows of a registry in another region

__all__ = ["FAR", "CountingProxy", "Counts"]
