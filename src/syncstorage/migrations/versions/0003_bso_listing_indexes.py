"""BSO indexes that serve every listing order from the index alone.

Revision ID: 0003_bso_indexes
Revises: 0002_tokenserver
Create Date: 2026-11-27

Measured in docs/performance.md ("Changes made", 2):
- `(userid, collection, modified)` becomes `(userid, collection, modified,
  id, ttl)`: default- and oldest-order pages come straight from the index,
  ties on `modified` (a batch commit writes up to 10,000 rows with one
  timestamp) need no sort, and the offset skip never reads the table;
- new `(userid, collection, sortindex, id, ttl)` for `sort=index`, the order
  Firefox downloads history and bookmarks in (a page at offset 20,000 sorted
  the whole collection in a temporary B-tree: 973 -> 10 ms).
Sharded layouts (storage-model §3.6) get both on every bso table.
"""

from alembic import context, op

revision = "0003_bso_indexes"
down_revision = "0002_tokenserver"
branch_labels = None
depends_on = None


def _bso_tables() -> list[str]:
    attributes = context.config.attributes
    if not attributes.get("shard", False):
        return ["bso"]
    return [f"bso{n}" for n in range(attributes.get("shardsize", 100))]


def upgrade() -> None:
    for bso in _bso_tables():
        op.drop_index(f"{bso}_usr_col_mod_idx", bso)
        op.create_index(
            f"{bso}_usr_col_mod_idx", bso, ["userid", "collection", "modified", "id", "ttl"]
        )
        op.create_index(
            f"{bso}_usr_col_sortindex_idx", bso, ["userid", "collection", "sortindex", "id", "ttl"]
        )


def downgrade() -> None:
    for bso in _bso_tables():
        op.drop_index(f"{bso}_usr_col_sortindex_idx", bso)
        op.drop_index(f"{bso}_usr_col_mod_idx", bso)
        op.create_index(f"{bso}_usr_col_mod_idx", bso, ["userid", "collection", "modified"])
