"""The tests the docs name exist: docs/conformance.md traces every rule to a
test, docs/architecture.md and docs/performance.md cite tests by path, and a
moved file or a renamed test must not leave them pointing at nothing (issue 11
step 5, when tests/ came to mirror src/)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEST_FILES = sorted((ROOT / "tests").rglob("*.py"))
FILE_NAMES = {path.name for path in TEST_FILES}
TEST_NAMES = set(
    re.findall(r"^\s*(?:async )?def (test_\w+)", "\n".join(p.read_text() for p in TEST_FILES), re.M)
)


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_named_tests_exist(doc):
    text = doc.read_text()
    paths = re.findall(r"\btests/[\w./-]*\w", text)  # tests/web/test_http_get.py, tests/e2e
    files = re.findall(r"\b(test_\w+\.py)\b", text)  # abbreviated: `test_items.py::...`
    names = re.findall(r"`(?:test_\w+\.py::)?(test_\w+)(?:\[[^`]*\])?`", text)
    assert paths or files or names or doc.name not in ("architecture.md", "conformance.md")
    missing = (
        [p for p in paths if not (ROOT / p).exists()]
        + [f for f in files if f not in FILE_NAMES]
        + [n for n in names if n not in TEST_NAMES]
    )
    assert not missing, f"{doc.name} names tests that do not exist: {missing}"
