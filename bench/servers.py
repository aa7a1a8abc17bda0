"""Starting and stopping server processes, and measuring them from /proc.

A benchmarked server is a real process (`python -m syncstorage serve`, or
uvicorn serving the ceiling app) on a free loopback port. Its CPU time and
memory are read from /proc for the process and all its descendants, so
uvicorn's `--workers` children are counted too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def python_env() -> dict[str, str]:
    """The environment for child processes: no SYNCSTORAGE_* setting of the
    caller's shell (the servers run with default settings plus what the bench
    passes), src/ and the repo root importable (a fresh clone needs no install)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCSTORAGE_")}
    paths = [str(REPO / "src"), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@dataclass
class ProcessStats:
    cpu_seconds: float
    rss_kb: dict[int, int]  # pid -> resident set size


class ServerProcess:
    """A server started as a process group of its own, stopped by its id."""

    def __init__(self, name: str, argv: list[str], port: int, env: dict[str, str], log: Path):
        self.name = name
        self.argv = argv
        self.port = port
        self.env = env
        self.log_path = log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/__lbheartbeat__"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            # The whole group we created: uvicorn's supervisor and its workers.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        self.process = None

    # --- measuring -----------------------------------------------------------

    def pids(self) -> list[int]:
        """The server process and its descendants (uvicorn workers)."""
        if self.process is None:
            return []
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _read_stat(int(entry))
                if stat is not None:
                    parents[int(entry)] = int(stat[1])
        found = [self.process.pid]
        for pid in found:
            found.extend(child for child, parent in parents.items() if parent == pid)
        return found

    def stats(self) -> ProcessStats:
        cpu = 0.0
        rss: dict[int, int] = {}
        for pid in self.pids():
            stat = _read_stat(pid)
            if stat is None:
                continue
            # fields after the command: state=0 ppid=1 ... utime=11 stime=12 ... rss=21
            cpu += (int(stat[11]) + int(stat[12])) / _CLOCK_TICKS
            rss[pid] = int(stat[21]) * _PAGE_KB
        return ProcessStats(cpu, rss)


def _read_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    return text[text.rindex(")") + 2 :].split()


def syncstorage_argv(port: int, database_url: str, secret: str, workers: int) -> list[str]:
    argv = [
        sys.executable, "-m", "syncstorage", "serve",
        "--host", "127.0.0.1", "--port", str(port),
        "--database-url", database_url,
        "--master-secret", secret,
        "--public-url", f"http://127.0.0.1:{port}",
    ]  # fmt: skip
    if workers != 1:
        argv += ["--workers", str(workers)]
    return argv


def ceiling_argv(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "bench.ceiling", "--port", str(port), "--workers", str(workers)
    ]  # fmt: skip
