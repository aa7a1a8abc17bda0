"""The load generator's checks bite: against the ceiling app, which stores
nothing, the steady workload's strict verification must report errors."""

from __future__ import annotations

import secrets

import pytest
import uvloop

from bench.servers import ServerProcess, ceiling_argv, free_port, python_env
from bench.target import Target
from bench.workloads import steady

pytestmark = pytest.mark.e2e


def test_strict_steady_flags_a_server_that_does_not_store(tmp_path):
    secret = secrets.token_hex(8)
    port = free_port()
    env = dict(python_env(), SYNCSTORAGE_MASTER_SECRET=secret,
               SYNCSTORAGE_PUBLIC_URL=f"http://127.0.0.1:{port}")  # fmt: skip
    server = ServerProcess("ceiling", ceiling_argv(port, 1), port, env, tmp_path / "ceiling.log")
    server.start()
    try:
        sizes = steady.Sizes(users=4, connections=2, seconds=0.5, warmup_seconds=0.1)
        strict = uvloop.run(steady.run(Target(server, secret), sizes, strict=True))
        loose = uvloop.run(steady.run(Target(server, secret), sizes, strict=False))
    finally:
        server.stop()
    assert strict["errors"] > 0
    # canned answers: a timestamp the client never wrote, records it never wrote
    samples = " ".join(strict["error_samples"])
    assert "expected" in samples and ("info_collections" in samples or "newer_fetch" in samples)
    assert loose["errors"] == 0
