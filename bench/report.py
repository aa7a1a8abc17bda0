"""The result of a run: checks against issue 6's targets, a terminal table
(rich) and a JSON file for comparing runs."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table


def _get(results: dict, path: str):
    value = results
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def checks(results: dict) -> list[dict]:
    """Each figure the issue sets a target for, with its target and verdict.
    A figure whose workload did not run is left out."""
    rows = []

    def row(name: str, path: str, unit: str, target: str, ok) -> None:
        value = _get(results, path)
        if value is not None:
            rows.append({"figure": name, "value": value, "unit": unit, "target": target, "ok": ok(value)})

    ceiling = _get(results, "ceiling.requests_per_s")
    row("first sync upload", "first_sync.upload.records_per_s", "rec/s", ">= 20,000", lambda v: v >= 20_000)
    row("first sync upload POST p99", "first_sync.upload.post.p99_ms", "ms", "", lambda v: None)
    row("first sync download", "first_sync.download.records_per_s", "rec/s", ">= 100,000", lambda v: v >= 100_000)
    row("first sync download page p99", "first_sync.download.page.p99_ms", "ms", "", lambda v: None)
    row("steady", "steady.requests_per_s", "req/s",
        f">= {ceiling / 3:,.0f} (ceiling/3)" if ceiling else ">= ceiling/3",
        lambda v: v >= ceiling / 3 if ceiling else None)  # fmt: skip
    row("steady p50", "steady.latency.p50_ms", "ms", "", lambda v: None)
    row("steady p99", "steady.latency.p99_ms", "ms", "< 50", lambda v: v < 50)
    if "steady" in results:
        peak = max(results["steady"]["rss_peak_mb"].values(), default=0)
        rows.append({"figure": "server RSS per process (peak)", "value": peak, "unit": "MB",
                     "target": "< 200", "ok": peak < 200})  # fmt: skip
    row("ceiling", "ceiling.requests_per_s", "req/s", "", lambda v: None)
    row("ceiling p99", "ceiling.latency.p99_ms", "ms", "", lambda v: None)
    if ceiling and _get(results, "steady.requests_per_s"):
        ratio = results["steady"]["requests_per_s"] / ceiling
        rows.append({"figure": "steady / ceiling", "value": ratio, "unit": "", "target": ">= 0.33",
                     "ok": ratio >= 1 / 3})  # fmt: skip
    if ceiling and _get(results, "steady.server_cpu_us_per_request"):
        ratio = results["ceiling"]["server_cpu_us_per_request"] / results["steady"]["server_cpu_us_per_request"]
        rows.append({"figure": "steady / ceiling, by server CPU per request", "value": ratio, "unit": "",
                     "target": "", "ok": None})  # fmt: skip
    row("big collection newer fetch p50", "big_collection.newer_fetch.p50_ms", "ms", "< 5", lambda v: v < 5)
    row("big collection ids= fetch p50", "big_collection.ids_fetch.p50_ms", "ms", "< 10", lambda v: v < 10)
    row("big collection paging", "big_collection.paging.records_per_s", "rec/s", ">= 50,000", lambda v: v >= 50_000)
    row("node migrate", "migrate.users_per_s", "users/s", "", lambda v: None)
    row("node migrate records", "migrate.records_per_s", "rec/s", "", lambda v: None)
    for name in ("first_sync", "steady", "big_collection", "ceiling", "scale", "migrate"):
        if name in results:
            rows.append({"figure": f"{name} errors", "value": results[name]["errors"], "unit": "",
                         "target": "0", "ok": results[name]["errors"] == 0})  # fmt: skip
    return rows


def cpu_rows(results: dict) -> list[tuple[str, dict]]:
    phases = [("first sync upload", "first_sync.upload"), ("first sync download", "first_sync.download"),
              ("steady", "steady"), ("big collection paging", "big_collection.paging"),
              ("ceiling", "ceiling")]  # fmt: skip
    return [(name, _get(results, path)) for name, path in phases if _get(results, path)]


def print_table(results: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"syncstorage bench — {results['run']['backend']}, "
                  f"{results['run']['workers']} worker(s){' (smoke)' if results['run']['smoke'] else ''}")  # fmt: skip
    for column in ("figure", "value", "target", ""):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in results["checks"]:
        value = row["value"]
        text = f"{value:,.0f}" if isinstance(value, float) and value >= 100 else (
            f"{value:.2f}" if isinstance(value, float) else str(value))  # fmt: skip
        verdict = {True: "[green]ok[/]", False: "[red]MISSED[/]", None: ""}[row["ok"]]
        table.add_row(row["figure"], f"{text} {row['unit']}".strip(), row["target"], verdict)
    console.print(table)

    cpu = Table(title=f"CPU use, % of one core ({results['run']['cpus']} cores)")
    for column in ("phase", "wall s", "server", "generator", "others", "server CPU"):
        cpu.add_column(column, justify="left" if column == "phase" else "right")
    for name, phase in cpu_rows(results):
        unit = "request" if "server_cpu_us_per_request" in phase else "record"
        cpu.add_row(name, f"{phase['wall_s']:.1f}", f"{phase['server_cpu_pct']:.0f}%",
                    f"{phase['generator_cpu_pct']:.0f}%", f"{phase['other_processes_cpu_pct']:.0f}%",
                    f"{phase[f'server_cpu_us_per_{unit}']:,.0f} µs/{unit[:3]}")  # fmt: skip
    console.print(cpu)
    if "scale" in results:
        print_scale(results["scale"], console)
    for name in ("first_sync", "steady", "big_collection", "ceiling", "scale", "migrate"):
        for sample in results.get(name, {}).get("error_samples", []):
            console.print(f"[red]{name}:[/] {sample}")


def print_scale(scale: dict, console: Console) -> None:
    table = Table(title="Scale behaviour (one user, one collection)")
    for column in ("records", "newer p50 ms", "ids= p50 ms", "paging rec/s", "purged rows", "purge rows/s"):
        table.add_column(column, justify="right")
    for row in scale["rows"]:
        table.add_row(f"{row['records']:,}", f"{row['newer_fetch']['p50_ms']:.2f}",
                      f"{row['ids_fetch']['p50_ms']:.2f}", f"{row['paging']['records_per_s']:,.0f}",
                      f"{row['purge']['expired']:,}", f"{row['purge']['rows_per_s']:,.0f}")  # fmt: skip
    console.print(table)


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
