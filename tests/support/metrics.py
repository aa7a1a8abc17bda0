"""Helpers of the metrics tests."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """A sample's current value in the process registry (0 when absent).
    Tests compare before/after: the registry lives as long as the process."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
