"""The cost meter sampled 1 in N: only the drawn requests are measured, every request counts
in flight for the CPU shares, and the documents say their sample rate."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tiergate.observe import Observation
from tiergate.observe.costmeter import CostMeter
from tiergate.observe.cpu import CpuShares


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _draws(*values: float) -> Callable[[], float]:
    pending = list(values)
    return lambda: pending.pop(0)


def test_one_in_n_requests_is_measured_and_its_document_says_so() -> None:
    cpu, wall = _Clock(), _Clock()
    shares = CpuShares(cpu, wall=wall, gap_s=0)
    # chance() * 4 < 1 draws the request: the 1st and 4th of these
    meter = CostMeter("ns", "api", flush_s=0, shares=shares, wall=wall, sample=4,
                      chance=_draws(0.1, 0.5, 0.9, 0.2))  # fmt: skip
    lines = []
    for i in range(4):
        observation = Observation(f"r{i}", "api")
        meter.start(observation)
        cpu.now += 0.001
        wall.now += 0.002
        lines.append(meter.finish(observation, "/v1/x", "free", 10, 0))
    measured = [json.loads(line) for line in lines if line]
    assert [doc["request_id"] for doc in measured] == ["r0", "r3"]
    assert all(doc["sample_rate"] == 4 for doc in measured)
    assert measured[0]["Cpu"] == [pytest.approx(1.0)]


def test_an_unsampled_request_still_shares_the_cpu_with_a_sampled_one() -> None:
    cpu, wall = _Clock(), _Clock()
    shares = CpuShares(cpu, wall=wall, gap_s=0)
    meter = CostMeter("ns", "api", flush_s=0, shares=shares, wall=wall, sample=2,
                      chance=_draws(0.0, 0.9))  # fmt: skip
    sampled, other = Observation("a", "api"), Observation("b", "api")
    meter.start(sampled)
    meter.start(other)  # not drawn, but in flight
    cpu.now += 0.002
    assert meter.finish(other, "/v1/x", "free", 10, 0) == ""
    line = meter.finish(sampled, "/v1/x", "free", 10, 0)
    assert json.loads(line)["Cpu"] == [pytest.approx(1.0)]  # half of the 2 ms


def test_without_sampling_documents_are_as_before() -> None:
    meter = CostMeter("ns", "api", flush_s=0)
    observation = Observation("r", "api")
    meter.start(observation)
    assert "sample_rate" not in json.loads(meter.finish(observation, "/v1/x", "free", 1, 0))


def test_a_sample_rate_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="1 or more"):
        CostMeter("ns", "api", sample=0)
