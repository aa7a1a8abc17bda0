"""`--profile DIR`: sample the server with py-spy while a workload runs.

py-spy attaches to the running server (and its worker processes) without
changing its code, and writes collapsed stacks (`DIR/<workload>.txt`, one
line per stack with its sample count; feed them to flamegraph.pl or
speedscope). A ranked summary by function, self and inclusive time, goes to
`DIR/<workload>-top.txt`. Idle time is not sampled, so the shares are
shares of the server's CPU time.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bench.servers import ServerProcess

RATE = 250  # samples per second


@contextlib.contextmanager
def recording(directory: Path | None, name: str, server: ServerProcess):
    if directory is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / f"{name}.txt"
    spy = subprocess.Popen(
        [py_spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--nonblocking",
         "--rate", str(RATE), "--format", "raw", "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        _, stderr = spy.communicate(timeout=60)
        if raw.exists():
            (directory / f"{name}-top.txt").write_text(summarize(raw))
        else:
            print(f"py-spy wrote no profile for {name}: {stderr.decode(errors='replace')}", file=sys.stderr)


def summarize(raw: Path, lines: int = 40) -> str:
    """Functions ranked by self time and by inclusive time (% of samples)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = [_function(frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    out = [f"{total} samples at {RATE}/s", "", "self time:"]
    out += [f"{100 * n / total:6.1f}%  {f}" for f, n in own.most_common(lines)]
    out += ["", "inclusive time:"]
    out += [f"{100 * n / total:6.1f}%  {f}" for f, n in inclusive.most_common(lines * 2)]
    return "\n".join(out) + "\n"


def _function(frame: str) -> str:
    """'name (file.py:123)' -> 'name (file.py)': rank functions, not lines."""
    head, _, location = frame.rpartition(" (")
    return f"{head} ({location.rsplit(':', 1)[0]})" if head else frame
