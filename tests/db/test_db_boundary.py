"""Every per-database branch lives in `syncstorage/db/` (issue 11): code
elsewhere asks the dialect (`Dialect.try_lock`, `reserve_ids`,
`stable_key_plans`, ...), never which database it runs on."""

from __future__ import annotations

import re
from pathlib import Path

import syncstorage

PACKAGE = Path(syncstorage.__file__).parent
# `engine.dialect.name`, `self.dialect.name`, or a `.name` compared with a
# database's name: a branch on the database outside db/
BRANCH = re.compile(
    r"""\bdialect\.name\b|\.name\s*(?:==|!=)\s*["'](?:sqlite|postgres|postgresql|mysql|mariadb)["']"""
)


def _branches(path: Path) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if BRANCH.search(line)
    ]


def test_no_database_branch_outside_db():
    modules = [p for p in PACKAGE.rglob("*.py") if (PACKAGE / "db") not in p.parents]
    assert len(modules) > 50  # the scan sees the package
    found = [branch for path in modules for branch in _branches(path)]
    assert found == []


def test_the_pattern_finds_a_branch(tmp_path):
    """The guard above can fail: these are the forms the old code had."""
    module = tmp_path / "m.py"
    module.write_text(
        'if self.storage.engine.dialect.name == "postgresql":\n'
        "    pass\n"
        "if dialect.name in ('mysql', 'mariadb'):\n"
        "    pass\n"
        "if url.name != 'sqlite':\n"
        "    pass\n"
    )
    assert len([line for line in module.read_text().splitlines() if BRANCH.search(line)]) == 3


def test_db_imports_nothing_above_it():
    """storage → db and tokenserver → db, never back up (issue 11)."""
    upward = re.compile(r"^\s*(?:from|import)\s+(?:\.\.|syncstorage(?!\.db\b))", re.MULTILINE)
    modules = list((PACKAGE / "db").glob("*.py"))
    assert len(modules) > 5
    assert [p.name for p in modules if upward.search(p.read_text())] == []
    assert upward.search("from syncstorage.storage import Sort\n")  # the pattern can fail
