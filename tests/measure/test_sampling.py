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
    # chance() * 4 < 1 draws the request: the 1st and 4th of these (each after the first is
    # drawn as the one before it ends, the last for a request that does not come)
    meter = CostMeter("ns", "api", flush_s=0, shares=shares, wall=wall, sample=4,
                      chance=_draws(0.1, 0.5, 0.9, 0.2, 0.9))  # fmt: skip
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
                      chance=_draws(0.0, 0.9, 0.9))  # fmt: skip
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


def test_a_request_not_measured_reads_no_clock_while_none_measured_is_in_flight() -> None:
    reads: list[str] = []
    cpu, wall = _Clock(), _Clock()

    def read_cpu() -> float:
        reads.append("cpu")
        return cpu()

    shares = CpuShares(read_cpu, wall=wall, gap_s=0)
    meter = CostMeter("ns", "api", flush_s=0, shares=shares, wall=wall, sample=10,
                      chance=_draws(*[0.5] * 6))  # fmt: skip
    reads.clear()
    for i in range(5):  # none drawn
        observation = Observation(f"r{i}", "api")
        meter.start(observation)
        assert meter.finish(observation, "/v1/x", "free", 10, 0) == ""
    assert reads == []


def test_a_request_drawn_as_the_last_one_ends_is_charged_the_gap_between_them() -> None:
    """As without sampling: the CPU between two back-to-back requests (the server reading
    the second) is the second's."""
    cpu, wall = _Clock(), _Clock()
    shares = CpuShares(cpu, wall=wall)  # the default back-to-back window
    meter = CostMeter("ns", "api", flush_s=0, shares=shares, wall=wall, sample=2,
                      chance=_draws(0.9, 0.0, 0.9))  # fmt: skip
    first, second = Observation("a", "api"), Observation("b", "api")
    meter.start(first)  # not drawn
    cpu.now += 0.005
    meter.finish(first, "/v1/x", "free", 10, 0)  # draws the next: measured, the clocks read
    cpu.now += 0.001  # the gap: the server reading the next request
    wall.now += 0.001
    meter.start(second)
    cpu.now += 0.002
    line = meter.finish(second, "/v1/x", "free", 10, 0)
    assert json.loads(line)["Cpu"] == [pytest.approx(3.0)]  # the gap's 1 ms and its own 2
