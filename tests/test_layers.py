"""The direction of the imports (issue 11, docs/architecture.md "Layers"):
import-linter checks the layers' contract in pyproject.toml, and no module
imports itself through others (a cycle works only through import order)."""

from __future__ import annotations

from pathlib import Path

import grimp
from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_each_layer_imports_only_the_layers_below_it():
    # the report of a broken contract goes to stdout, which pytest shows
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == 0


def test_no_import_cycles():
    graph = grimp.build_graph("syncstorage", exclude_type_checking_imports=True, cache_dir=None)
    cycles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                cycles.add(" -> ".join((module, *back)))
    assert sorted(cycles) == []
