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


# Leaf frames of threads that wait rather than compute: idle thread-pool
# workers and the event loop blocked in epoll (uvloop's C loop shows up as
# Runner.run). They are counted apart so the ranking is of CPU work.
WAITING = ("Condition.wait (threading.py)", "Event.wait (threading.py)",
           "Queue.get (queue.py)", "Runner.run (asyncio/runners.py)")  # fmt: skip


def summarize(raw: Path, lines: int = 40) -> str:
    """Functions ranked by self time and by inclusive time, in % of the
    samples that were not waiting."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        frames = [_function(frame) for frame in stack.split(";")]
        if frames[-1] in WAITING:
            waiting += samples
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    total = total or 1
    out = [f"{total} working samples at {RATE}/s; {waiting} waiting samples left out "
           f"({', '.join(w.split(' ')[0] for w in WAITING)})", "", "self time:"]
    out += [f"{100 * n / total:6.1f}%  {f}" for f, n in own.most_common(lines)]
    out += ["", "inclusive time:"]
    out += [f"{100 * n / total:6.1f}%  {f}" for f, n in inclusive.most_common(lines * 2)]
    return "\n".join(out) + "\n"


def _function(frame: str) -> str:
    """'name (file.py:123)' -> 'name (file.py)': rank functions, not lines."""
    head, _, location = frame.rpartition(" (")
    return f"{head} ({location.rsplit(':', 1)[0]})" if head else frame
