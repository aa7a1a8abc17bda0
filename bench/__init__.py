"""The project's benchmark suite (issue 6): `python -m bench --help`.

It starts the server as a real process on a free loopback port, drives it
with a Hawk-signing load generator that verifies every answer, and reports
figures against the targets in docs/performance.md.
"""
