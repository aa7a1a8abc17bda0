"""The benchmark workloads. Each is an async `run(target, sizes)` returning
a dict of figures; every response is verified and mismatches are errors."""
