"""The direction of the imports (issue 11, docs/architecture.md "Layers"):
import-linter checks the layers' contract in pyproject.toml, and no module
imports itself through others (a cycle works only through import order)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"
)


def test_each_layer_imports_only_the_layers_below_it():
    # In a process of its own: import-linter configures logging in the
    # process it runs in, which silenced the request log for the tests that
    # ran after it. Its report of a broken contract is shown on failure.
    run = subprocess.run(
        [sys.executable, "-c", LINT, str(PYPROJECT)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_import_cycles():
    graph = grimp.build_graph("syncstorage", exclude_type_checking_imports=True, cache_dir=None)
    cycles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                cycles.add(" -> ".join((module, *back)))
    assert sorted(cycles) == []
