"""docs/configuration.md stays the reference of every setting (issue 5 item 1)."""

from pathlib import Path

import pytest

from syncstorage.settings import Settings

DOC = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name):
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"docs/configuration.md has no row for {name}"
    assert f"`SYNCSTORAGE_{name.upper()}" in row
