"""`python -m bench`: start the servers, run the workloads, report."""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import secrets
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import click
import uvloop
from sqlalchemy.engine import make_url

from bench import profiling, report
from bench.servers import REPO, ServerProcess, ceiling_argv, free_port, python_env, syncstorage_argv
from bench.target import Target
from bench.workloads import big_collection, first_sync, steady
from bench.workloads import migrate as migrate_users
from bench.workloads import nodes
from bench.workloads import scale as scale_sweep

WORKLOADS = ("first_sync", "big_collection", "steady", "ceiling")
# Not run by default: --only scale (minutes, several users of up to 100,000
# records); --only nodes (a tokenserver and three storage nodes, SQLite only);
# --only migrate (`node migrate` from --database-url to --migrate-to)
OPTIONAL_WORKLOADS = ("scale", "nodes", "migrate")

SMOKE = {
    "first_sync": first_sync.Sizes(users=2, bookmarks=20, history=130, page=50),
    "big_collection": big_collection.Sizes(records=1_200, newer_items=20, ids=20, page=250, repeats=3),
    "steady": steady.Sizes(users=6, connections=3, seconds=1.0, warmup_seconds=0.3),
    "scale": scale_sweep.Sizes(sizes=(200, 1_000), repeats=3),
    "nodes": nodes.Sizes(users=60, capacities=(40, 30, 20), connections=4, phase_seconds=3, token_seconds=4),
    "migrate": migrate_users.Sizes(users=5, records=50, chunk_size=20),
}


def full_sizes(scale: float, steady_seconds: float, sweep: tuple[int, ...]) -> dict:
    def n(value: int) -> int:
        return max(1, round(value * scale))

    fs, bc, st = first_sync.Sizes(), big_collection.Sizes(), steady.Sizes()
    return {
        "first_sync": replace(fs, users=n(fs.users), bookmarks=n(fs.bookmarks), history=n(fs.history)),
        "big_collection": replace(bc, records=max(n(bc.records), bc.newer_items + bc.ids)),
        "steady": replace(st, users=n(st.users), seconds=steady_seconds),
        "scale": scale_sweep.Sizes(sizes=sweep),  # not --scale: the sizes are the point
        "nodes": replace(nodes.Sizes(), users=n(nodes.Sizes().users)),
        "migrate": replace(migrate_users.Sizes(), users=n(migrate_users.Sizes().users)),
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", default=None, metavar="URL",
              help="Benchmark this (empty) database instead of SQLite in a temporary directory.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Server worker processes (the ceiling app gets as many).")
@click.option("--nonce-store-url", default=None, metavar="URL", envvar="SYNCSTORAGE_NONCE_STORE_URL",
              help="Shared nonce store for both servers, needed with --workers above 1 "
              "(e.g. redis://127.0.0.1:6379/0).")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Multiply users and record counts by this.")
@click.option("--steady-seconds", default=20.0, show_default=True, type=float,
              help="Measured duration of the steady and ceiling workloads.")
@click.option("--sweep-sizes", default="1000,10000,100000", show_default=True, metavar="N,N,...",
              help="Collection sizes of the scale sweep (--only scale).")
@click.option("--only", default=",".join(WORKLOADS), show_default=True,
              help="Comma-separated workloads to run.")
@click.option("--smoke", is_flag=True, help="Every workload tiny (seconds): keeps the tool working in CI.")
@click.option("--profile", "profile_dir", type=click.Path(path_type=Path), default=None,
              help="Sample the server with py-spy during each workload; write the profiles to this directory.")
@click.option("--migrate-to", default=None, metavar="URL",
              help="The (empty) destination database of --only migrate [default: SQLite in a temporary directory].")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Where to write the JSON results [default: bench/results/<time>-<backend>.json].")
def main(database_url, workers, nonce_store_url, scale, steady_seconds, sweep_sizes, only, smoke, profile_dir, migrate_to, json_path) -> None:
    """Benchmark the syncstorage server (issue 6 workloads) on this machine."""
    try:
        sweep = tuple(int(size) for size in sweep_sizes.split(","))
    except ValueError:
        raise click.BadParameter("a comma-separated list of record counts", param_hint="--sweep-sizes") from None
    if not sweep or min(sweep) < 1:
        raise click.BadParameter("a comma-separated list of record counts", param_hint="--sweep-sizes")
    selected = [name.strip() for name in only.split(",") if name.strip()]
    unknown = set(selected) - set(WORKLOADS) - set(OPTIONAL_WORKLOADS)
    if unknown:
        raise click.BadParameter(f"unknown workload(s) {', '.join(sorted(unknown))}", param_hint="--only")
    if workers > 1 and not nonce_store_url:
        raise click.BadParameter("--workers above 1 needs a shared nonce store", param_hint="--nonce-store-url")
    sizes = SMOKE if smoke else full_sizes(scale, steady_seconds, sweep)
    backend = make_url(database_url).get_backend_name() if database_url else "sqlite"
    results = {
        "run": {
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "backend": backend,
            "workers": workers,
            "nonce_store": "shared" if nonce_store_url else "memory",
            "smoke": smoke,
            "scale": scale,
            "cpus": os.cpu_count(),
        }
    }
    if json_path is None:
        stamp = results["run"]["started"].replace(":", "").replace("+0000", "Z")
        json_path = REPO / "bench" / "results" / f"{stamp}-{backend}{'-smoke' if smoke else ''}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    logs = json_path.with_suffix("")  # the servers' output: <results>-syncstorage.log, -ceiling.log
    workdir = Path(tempfile.mkdtemp(prefix="syncstorage-bench-"))
    try:
        # uvloop: the generator's own CPU per request matters on 2 cores.
        uvloop.run(run_all(selected, sizes, database_url, workers, nonce_store_url, workdir, logs, profile_dir, results,
                           migrate_to))  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["checks"] = report.checks(results)
    report.print_table(results)
    report.write_json(results, json_path)
    click.echo(f"results: {json_path}")
    errors = sum(results[name]["errors"] for name in selected if name in results)
    raise SystemExit(1 if errors else 0)


async def run_all(selected, sizes, database_url, workers, nonce_store_url, workdir: Path, logs: Path, profile_dir, results: dict,
                  migrate_to: str | None = None) -> None:  # fmt: skip
    secret = secrets.token_hex(16)
    env = python_env()
    if nonce_store_url:
        env["SYNCSTORAGE_NONCE_STORE_URL"] = nonce_store_url
    server_workloads = [name for name in selected if name not in ("ceiling", "nodes", "migrate")]
    if server_workloads:
        port = free_port()
        url = database_url or f"sqlite:///{workdir / 'bench.db'}"
        server = ServerProcess("syncstorage", syncstorage_argv(port, url, secret, workers), port, env,
                               Path(f"{logs}-syncstorage.log"))  # fmt: skip
        # A shared database may hold earlier runs' users: start elsewhere.
        first_uid = 1 if database_url is None else random.randrange(1, 900_000_000)
        with running(server):
            target = Target(server, secret, first_uid=first_uid)
            for name in server_workloads:
                with profiling.recording(profile_dir, name, server):
                    if name == "scale":  # also opens the database itself, to expire and purge
                        results[name] = await scale_sweep.run(target, sizes[name], url)
                        continue
                    module = {"first_sync": first_sync, "big_collection": big_collection, "steady": steady}[name]
                    results[name] = await module.run(target, sizes[name])
    if "nodes" in selected:  # processes of its own, each on its own SQLite file
        results["nodes"] = await nodes.run(sizes["nodes"], workdir, logs, env, secret)
    if "migrate" in selected:  # the command between two databases, no server
        source = database_url or f"sqlite:///{workdir / 'migrate-from.db'}"
        results["migrate"] = await migrate_users.run(
            sizes["migrate"], workdir, logs, env, source, migrate_to or f"sqlite:///{workdir / 'migrate-to.db'}"
        )
    if "ceiling" in selected:
        port = free_port()
        ceiling_env = dict(env, SYNCSTORAGE_MASTER_SECRET=secret,
                           SYNCSTORAGE_PUBLIC_URL=f"http://127.0.0.1:{port}")  # fmt: skip
        server = ServerProcess("ceiling", ceiling_argv(port, workers), port, ceiling_env, Path(f"{logs}-ceiling.log"))
        with running(server):
            with profiling.recording(profile_dir, "ceiling", server):
                results["ceiling"] = await steady.run(Target(server, secret), sizes["steady"], strict=False)


@contextlib.contextmanager
def running(server: ServerProcess):
    server.start()
    try:
        yield server
    finally:
        server.stop()
