"""Start the real server process, as an operator would, for end-to-end tests.

`python -m syncstorage serve` runs in a child process on a free loopback
port with its own data directory; settings come through SYNCSTORAGE_*
variables exactly as in production. Nothing of the server is imported here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"
STARTUP_TIMEOUT = 90.0  # generous: CI machines may be busy


def free_port() -> int:
    """A loopback port nothing listens on: for a server to bind, or to stand
    for a server that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_environment(**settings: str) -> dict[str, str]:
    """The test process's environment without any SYNCSTORAGE_* setting of the
    developer's shell (test URLs kept), plus `settings` as SYNCSTORAGE_<NAME>."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SYNCSTORAGE_") or k.startswith("SYNCSTORAGE_TEST_")
    }
    # The child imports the package from this checkout, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"SYNCSTORAGE_{name.upper()}": value for name, value in settings.items()})
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `python -m syncstorage ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "syncstorage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def invoke_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a `syncstorage` command in this process, with exactly the
    SYNCSTORAGE_* variables of `env`: much faster than `run_cli`, for
    commands that do not set up logging (everything but serve and purge)."""
    from click.testing import CliRunner

    from syncstorage.cli import cli

    variables = {k: v for k, v in env.items() if k.startswith("SYNCSTORAGE_")}
    variables.update({k: None for k in os.environ if k.startswith("SYNCSTORAGE_") and k not in env})
    result = CliRunner().invoke(cli, list(args), env=variables, prog_name="syncstorage")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@dataclass
class RunningServer:
    process: subprocess.Popen
    base_url: str  # where the test connects
    public_url: str  # what tokens carry as node
    data_dir: Path
    log_path: Path
    master_secret: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    data_dir: Path,
    *,
    database_url: str | None = None,
    master_secret: str | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    **settings: str,
) -> RunningServer:
    """Start `syncstorage serve` and wait until /__lbheartbeat__ answers on
    `port` (default: a free one, passed as SYNCSTORAGE_PORT)."""
    port = port or free_port()
    given = {"host": "127.0.0.1", "port": str(port), "data_dir": str(data_dir), **settings}
    if database_url:
        given["database_url"] = database_url
    if master_secret:
        given["master_secret"] = master_secret
    env = server_environment(**given)
    env.update(extra_env or {})
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncstorage", "serve", *args],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    server = RunningServer(
        process=process,
        base_url=base_url,
        public_url=settings.get("public_url", base_url),
        data_dir=data_dir,
        log_path=log_path,
        master_secret=master_secret,
        env=env,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{base_url}/__lbheartbeat__", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not answer within {STARTUP_TIMEOUT}s:\n{server.log()}")
