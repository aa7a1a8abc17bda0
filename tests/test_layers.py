"""The direction of the imports (issue 11, docs/architecture.md "Layers"):
import-linter checks the layers' contract in pyproject.toml, and no module
imports itself through others (a cycle works only through import order)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_each_layer_imports_only_the_layers_below_it():
    # A process of its own: import-linter's CLI configures logging with
    # dictConfig, which disables every logger that exists, and the tests that
    # ran after it in this process saw no log records (caplog).
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo", str(PYPROJECT)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_import_cycles():
    graph = grimp.build_graph("syncstorage", exclude_type_checking_imports=True, cache_dir=None)
    cycles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                cycles.add(" -> ".join((module, *back)))
    assert sorted(cycles) == []
