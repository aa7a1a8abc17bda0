"""`syncstorage user show|delete` and `syncstorage stats` on each database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support.cli import invoke, storage, upload  # noqa: F401  (storage: fixture)

from syncstorage.tokenserver.schema import nodes, users

FXA_UID = "0123456789abcdef0123456789abcdef"
EMAIL = f"{FXA_UID}@api.accounts.firefox.com"


@pytest.fixture
def seeded(storage):
    """uid 7 and 8: one FxA account whose keys changed once; uid 9: another."""
    upload(storage, 7, "bookmarks", "old")
    upload(storage, 8, "bookmarks", "a" * 10, "b" * 20)
    upload(storage, 8, "tabs", "é")  # 2 bytes in UTF-8
    upload(storage, 8, "history", "gone", ttl=-10)  # already expired
    upload(storage, 9, "bookmarks", "c" * 5)
    with storage.engine.begin() as conn:
        node = conn.execute(sa.insert(nodes).values(service=1, node="http://localhost:8000", available=1,
                                                    current_load=2, capacity=10, downed=0, backoff=0)).inserted_primary_key[0]
        common = dict(service=1, email=EMAIL, generation=5, client_state="aa", nodeid=node)
        conn.execute(sa.insert(users).values(uid=7, created_at=1_600_000_000_000, replaced_at=1_700_000_000_000, **common))
        conn.execute(sa.insert(users).values(uid=8, created_at=1_700_000_000_000, keys_changed_at=1_700_000_000_000, **common))
    return storage


def live_counts(storage, uid):
    with storage.session(uid) as session:
        return session.collection_counts()


def test_user_show_by_uid_lists_collections_with_counts_bytes_and_times(database_url, seeded):
    result = invoke(database_url, "user", "show", "8")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "# uid 8: stored data" in lines
    assert "bookmarks\t2\t30\t" in result.output
    assert "tabs\t1\t2\t" in result.output
    assert "history\t0\t0\t" in result.output  # its item expired
    assert "total\t3\t32\t" in result.output
    assert "UTC" in result.output
    assert f"8\t{EMAIL}\t5\t2023-11-14 22:13:20 UTC\taa" in result.output  # its token record


def test_user_show_by_fxa_uid_and_by_email_covers_every_uid_of_the_account(database_url, seeded):
    for who in (FXA_UID, EMAIL, FXA_UID.upper()):
        result = invoke(database_url, "user", "show", who)
        assert result.exit_code == 0, result.output
        assert "# uid 8: stored data" in result.output
        assert "# uid 7: stored data" in result.output
        assert "# uid 9" not in result.output


def test_user_show_of_unknown_users(database_url, seeded):
    assert invoke(database_url, "user", "show", "12345").output == "uid 12345: no stored data\n"
    result = invoke(database_url, "user", "show", "nobody@example.com")
    assert result.exit_code == 1
    assert "no tokenserver user with email nobody@example.com" in result.output


def test_user_delete_asks_first_and_deletes_like_delete_storage(database_url, seeded):
    refused = invoke(database_url, "user", "delete", "8", input="n\n")
    assert refused.exit_code == 1
    assert "uid 8 (3 collections, 3 items)" in refused.output
    assert live_counts(seeded, 8) == {"bookmarks": 2, "tabs": 1}

    result = invoke(database_url, "user", "delete", "8", input="y\n")
    assert result.exit_code == 0, result.output
    assert "deleted the stored data of uid 8" in result.output
    assert live_counts(seeded, 8) == {}
    with seeded.session(8) as session:
        assert session.collection_timestamps() == {}
        assert session.storage_timestamp() > 0  # the tombstone of storage-api §4.4
    assert live_counts(seeded, 9) == {"bookmarks": 1}  # nobody else's data


def test_user_delete_by_email_with_yes_deletes_every_uid_and_keeps_token_records(database_url, seeded):
    result = invoke(database_url, "user", "delete", EMAIL, "--yes")
    assert result.exit_code == 0, result.output
    assert live_counts(seeded, 7) == live_counts(seeded, 8) == {}
    assert live_counts(seeded, 9) == {"bookmarks": 1}
    with seeded.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() == 2


def test_stats_counts_users_items_bytes_per_collection(database_url, seeded):
    result = invoke(database_url, "stats")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == ["# storage by collection", "collection\tusers\titems\tbytes\tlast modified"]
    rows = {line.split("\t")[0]: line.split("\t")[1:4] for line in lines[2:-1]}
    assert rows == {
        "bookmarks": ["3", "4", "38"],
        "tabs": ["1", "1", "2"],
        "history": ["1", "0", "0"],
        "total": ["3", "5", "40"],
    }
    assert lines[2].startswith("bookmarks\t")  # largest first
    assert lines[-1] == "expired items awaiting purge: 1"


def test_stats_on_an_empty_database(database_url, storage):
    result = invoke(database_url, "stats")
    assert result.exit_code == 0, result.output
    assert "total\t0\t0\t0\t-" in result.output


def test_commands_refuse_a_database_without_schema(database_url):
    for args in (["stats"], ["user", "show", "1"], ["user", "delete", "1", "--yes"]):
        result = invoke(database_url, *args)
        assert result.exit_code == 1
        assert "run `syncstorage db upgrade`" in result.output


def test_stats_on_a_terminal_is_a_table(database_url, seeded):
    result = invoke(database_url, "stats", terminal=True)
    assert result.exit_code == 0, result.output
    assert "storage by collection" in result.output
    assert "\t" not in result.output
    assert any(line.startswith("│ bookmarks") and "│" in line[1:] for line in result.output.splitlines())
