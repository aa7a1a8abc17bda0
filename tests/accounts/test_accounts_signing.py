"""The access-token signing keys in the data directory: generated once,
private, rotated with the previous key kept (spec accounts.md §5.4)."""

from __future__ import annotations

import json
import stat

from syncstorage.accounts import signing


def test_generated_once_and_private(tmp_path):
    keys, created = signing.load_or_create(tmp_path / "data")
    again, created_again = signing.load_or_create(tmp_path / "data")
    assert created and not created_again
    assert [k.kid for k in again] == [k.kid for k in keys]
    path = tmp_path / "data" / signing.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    jwk = keys[0].public_jwk()
    assert set(jwk) == {"kty", "alg", "use", "kid", "n", "e"}  # no private parts
    assert "BEGIN PRIVATE KEY" in path.read_text()


def test_rotation_keeps_the_previous_key_only(tmp_path):
    first, _ = signing.load_or_create(tmp_path)
    second = signing.rotate(tmp_path)
    third = signing.rotate(tmp_path)
    assert [k.kid for k in second] == [first[0].kid, second[-1].kid]
    assert [k.kid for k in third] == [second[-1].kid, third[-1].kid]
    assert len(json.loads((tmp_path / signing.FILE_NAME).read_text())) == 2
    assert stat.S_IMODE((tmp_path / signing.FILE_NAME).stat().st_mode) == 0o600
