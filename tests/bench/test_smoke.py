"""The benchmark tool keeps working: `python -m bench --smoke` runs every
workload, tiny, against a real server process and verifies every answer.

Not a timed test: no figure is compared with a target here (issue 6).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_smoke_runs_every_workload_without_errors(tmp_path):
    out = tmp_path / "smoke.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    results = orjson.loads(out.read_bytes())
    for name in ("first_sync", "steady", "big_collection", "ceiling"):
        assert results[name]["errors"] == 0, results[name]["error_samples"]

    first = results["first_sync"]
    sizes = first["sizes"]
    uploaded = sizes["users"] * (sizes["bookmarks"] + sizes["history"])
    assert first["upload"]["records"] == first["download"]["records"] == uploaded
    assert first["upload"]["records_per_s"] > 0 and first["download"]["records_per_s"] > 0

    steady = results["steady"]
    assert steady["requests"] > 0 and steady["requests_per_s"] > 0
    # the rare operations (2 %, 5 %) may not come up in a one-second smoke run
    assert {"info_collections", "newer_fetch", "small_post"} <= set(steady["by_op"]) <= {
        "info_collections", "newer_fetch", "small_post", "meta_global_put", "delete_one"}  # fmt: skip
    assert 0 < max(steady["rss_peak_mb"].values()) < 1000
    assert 0 < steady["server_cpu_pct"] <= 100 * (results["run"]["cpus"] or 1)
    assert results["ceiling"]["requests"] > 0

    big = results["big_collection"]
    assert big["paging"]["records"] == big["sizes"]["records"]
    assert big["newer_fetch"]["count"] == big["ids_fetch"]["count"] == big["sizes"]["repeats"]

    figures = {row["figure"] for row in results["checks"]}
    assert {"steady / ceiling", "big collection paging", "first sync upload"} <= figures
    assert "steady / ceiling" in run.stdout  # the terminal table
    assert Path(f"{out.with_suffix('')}-syncstorage.log").exists()


def test_scale_sweep_smoke_verifies_every_size_and_purges_exactly_the_expired_rows(tmp_path):
    out = tmp_path / "scale.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "scale", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    scale = orjson.loads(out.read_bytes())["scale"]
    assert scale["errors"] == 0, scale["error_samples"]
    assert [row["records"] for row in scale["rows"]] == list(scale["sizes"]["sizes"])
    for row in scale["rows"]:
        assert row["paging"]["records"] == row["records"]
        assert row["purge"]["expired"] == round(row["records"] * scale["sizes"]["expire_share"])
        assert row["newer_fetch"]["count"] == row["ids_fetch"]["count"] == scale["sizes"]["repeats"]
    assert "Scale behaviour" in run.stdout


def test_many_nodes_smoke_moves_the_drained_nodes_users_without_errors(tmp_path):
    """A tokenserver and three storage nodes: users spread by capacity, the
    drained node's users get another node at their next token, the others
    see no error, and nobody is left without a node."""
    out = tmp_path / "nodes.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "nodes", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    nodes = orjson.loads(out.read_bytes())["nodes"]
    assert nodes["errors"] == 0, nodes["error_samples"]
    before, after = nodes["users_per_node_before_drain"], nodes["users_per_node_at_end"]
    drained = list(before)[-1]  # added last
    assert sum(before.values()) == sum(after.values()) == nodes["sizes"]["users"]
    assert drained not in after and nodes["users_moved"] == before[drained] > 0
    # by capacity: the largest node holds the most users
    assert before[list(before)[0]] > before[drained]
    assert not [key for key in nodes["requests"] if key == f"removed: {drained}"]  # stopped with its removal


@pytest.mark.parametrize("sizes", ["0", "1000,x", ""])
def test_sweep_sizes_must_be_record_counts(sizes):
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "scale", "--sweep-sizes", sizes],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--sweep-sizes" in run.stderr and "record counts" in run.stderr


def test_migrate_smoke_moves_every_record(tmp_path):
    """`node migrate` between two SQLite files: every record at the destination."""
    out = tmp_path / "migrate.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "migrate", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    migrate = orjson.loads(out.read_bytes())["migrate"]
    assert migrate["errors"] == 0, migrate["error_samples"]
    sizes = migrate["sizes"]
    assert migrate["records_at_destination"] == sizes["users"] * sizes["records"]
    assert migrate["users_per_s"] > 0 and migrate["records_per_s"] > 0
