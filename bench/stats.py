"""Latencies, error counts and CPU shares of one workload."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field


class Latencies:
    """Request latencies in seconds, grouped by operation name."""

    def __init__(self) -> None:
        self.by_op: dict[str, list[float]] = {}

    def add(self, op: str, seconds: float) -> None:
        self.by_op.setdefault(op, []).append(seconds)

    def all(self) -> list[float]:
        return [value for values in self.by_op.values() for value in values]

    @staticmethod
    def summary(values: list[float]) -> dict[str, float]:
        """count, p50, p99, max, mean; latencies in milliseconds."""
        if not values:
            return {"count": 0}
        ordered = sorted(values)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        return {
            "count": len(ordered),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": ordered[-1] * 1000,
            "mean_ms": sum(ordered) / len(ordered) * 1000,
        }


class Errors:
    """Mismatches and failures; keeps the first few messages for the report."""

    KEEP = 10

    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.samples) < self.KEEP:
            self.samples.append(message)

    def check(self, ok: bool, message: str) -> bool:
        if not ok:
            self.add(message)
        return ok


@dataclass
class CpuWindow:
    """Wall time and CPU seconds over one measured phase: the generator (this
    process), the server (its process tree) and everything else on the
    machine (other processes compete for the same cores and make figures
    noisy; the report shows how much they took)."""

    server: object  # servers.ServerProcess
    wall: float = 0.0
    generator_cpu: float = 0.0
    server_cpu: float = 0.0
    machine_cpu: float = 0.0
    _start: tuple[float, float, float, float] = field(default=(0.0, 0.0, 0.0, 0.0))

    def __enter__(self) -> CpuWindow:
        self._start = (time.perf_counter(), _own_cpu(), self.server.stats().cpu_seconds, _machine_cpu())
        return self

    def __exit__(self, *exc) -> None:
        wall0, gen0, srv0, machine0 = self._start
        self.wall = time.perf_counter() - wall0
        self.generator_cpu = _own_cpu() - gen0
        self.server_cpu = self.server.stats().cpu_seconds - srv0
        self.machine_cpu = _machine_cpu() - machine0

    def shares(self, work: int, unit: str) -> dict[str, float]:
        """CPU use as a percentage of one core (200 = both cores of 2), and
        the server's and generator's CPU time per unit of work: the figure
        least disturbed by other load on the machine."""
        wall = self.wall or 1e-9
        others = max(0.0, self.machine_cpu - self.server_cpu - self.generator_cpu)
        return {
            "wall_s": self.wall,
            "server_cpu_pct": 100 * self.server_cpu / wall,
            "generator_cpu_pct": 100 * self.generator_cpu / wall,
            "other_processes_cpu_pct": 100 * others / wall,
            f"server_cpu_us_per_{unit}": 1e6 * self.server_cpu / max(work, 1),
            f"generator_cpu_us_per_{unit}": 1e6 * self.generator_cpu / max(work, 1),
        }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu() -> float:
    """CPU seconds spent by all processes (busy time of every core)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
