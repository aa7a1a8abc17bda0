"""Before/after figures of issue 10, finding 4: status and time of a write, a
read, a token request and heartbeats while the database is frozen.

    SYNCSTORAGE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
    .venv/bin/python tests/hostile/measure_frozen_database.py postgresql [--freeze 20] [--src DIR]

(`mysql` with SYNCSTORAGE_TEST_MYSQL_URL likewise.) `--src` runs the server
from another checkout's src/ (e.g. /path/to/main/src for the "before").
The database is frozen by the tests' proxy (support/db_proxy.py) for `--freeze`
seconds; every request is sent at the start of the freeze.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS.parent / "src")]

import httpx  # noqa: E402

from support.databases import drop_created_databases, fresh_database_url  # noqa: E402
from support.client import SyncClient, encrypted_payload, mint_token  # noqa: E402
from support.server import start_server  # noqa: E402
from hostile.test_frozen_database import proxied, token_request  # noqa: E402
from support.mock_fxa import MockFxA  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend", choices=["postgresql", "mysql"])
    parser.add_argument("--freeze", type=float, default=20.0)
    parser.add_argument("--src", help="run the server from this src/ directory")
    args = parser.parse_args()
    fxa = MockFxA()
    with tempfile.TemporaryDirectory() as tmp:
        proxy, url = proxied(fresh_database_url(args.backend, Path(tmp)))
        extra_env = {"PYTHONPATH": args.src} if args.src else None
        server = start_server(
            Path(tmp) / "data", database_url=url, master_secret=secrets.token_hex(32),
            fxa_oauth_server_url=fxa.url, extra_env=extra_env,
        )
        try:
            measure(server, proxy, fxa, args.freeze)
        finally:
            server.stop()
            proxy.close()
            fxa.close()
            drop_created_databases()


def measure(server, proxy, fxa, freeze: float) -> None:
    token, key = mint_token(server.master_secret, 7, server.public_url)
    client = SyncClient(server.base_url, 7, token, key)
    record = [{"id": "before", "payload": encrypted_payload("before")}]
    assert client.post("storage/history", json=record).status_code == 200
    assert token_request(server, fxa).status_code == 200
    heartbeat_url = f"{server.base_url}/__heartbeat__"
    requests = {
        "write": lambda: client.post("storage/history", json=[{"id": "during", "payload": "x"}]),
        "read": lambda: client.get("storage/history", params={"full": "1"}),
        "token": lambda: token_request(server, fxa),
        "heartbeat": lambda: httpx.get(heartbeat_url, timeout=120),
    }

    def timed(name):
        started = time.monotonic()
        try:
            response = requests[name]()
        except httpx.TimeoutException:
            return f"no answer in {time.monotonic() - started:5.2f} s (client gave up)"
        took = time.monotonic() - started
        return f"{response.status_code} in {took:5.2f} s (Retry-After: {response.headers.get('retry-after', '-')})"

    proxy.freeze()
    frozen_at = time.monotonic()
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        futures = {name: pool.submit(timed, name) for name in requests}
        # heartbeats one after another during the freeze, as a load balancer polls
        beats = pool.submit(lambda: [timed("heartbeat") for _ in range(3)])
        time.sleep(max(0.0, freeze - (time.monotonic() - frozen_at)))
        proxy.resume()
        print(f"database frozen for {freeze:g} s")
        for name, future in futures.items():
            print(f"  {name:9}: {future.result(timeout=300)}")
        for n, line in enumerate(beats.result(timeout=300), 2):
            print(f"  heartbeat {n}: {line}")
    time.sleep(1)
    print("after resume, the same requests again:")
    for name in requests:
        print(f"  {name:9}: {timed(name)}")
    ids = {r["id"] for r in client.get("storage/history", params={"full": "1"}).json()}
    print(f"  records: {sorted(ids)}")
    client.close()


if __name__ == "__main__":
    main()
