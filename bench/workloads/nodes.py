"""Many storage nodes (issue 17): one tokenserver process and three storage
nodes on loopback, users assigned by capacity, a steady load across all of
them; then one node is drained, and then removed and stopped, under load.

Every user signs in as Firefox does: an RS256 OAuth token (signed by the
bench's own key, which the tokenserver is configured to trust) traded at
the tokenserver for a node and Hawk credentials, renewed when its
`duration` has passed (short here, so that drains take effect within the
run). Each sync then uploads a few records and checks that
`info/collections` shows their timestamp. A user whose node changed starts
over on the new one (its old data stays behind, as for Firefox, which
uploads again). Requests to the removed node fail to connect: that is
expected, counted apart, and answered by a new token; any other failure is
an error, and none may happen on the nodes that stay.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.httpclient import Connection, ConnectionClosed
from bench.records import RecordFactory, encode_batch
from bench.servers import ServerProcess, free_port
from bench.stats import Errors, Latencies
from bench.users import User

SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"
TOKEN_PATH = "/1.0/sync/1.5"


@dataclass
class Sizes:
    users: int = 3_000
    # room for the drained node's users on the others (a full fleet answers 503)
    capacities: tuple[int, ...] = (2_000, 1_500, 1_000)  # the third is drained, then removed
    connections: int = 24
    phase_seconds: float = 10.0  # each of: all nodes, drained, removed
    token_seconds: int = 5  # the tokenserver's token_duration


class _Signer:
    """The accounts server's half: an RSA key, its public JWK, OAuth tokens."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        self.jwk = {**jwk, "kid": "bench", "alg": "RS256", "use": "sig"}

    def token(self, fxa_uid: str) -> str:
        claims = {"sub": fxa_uid, "scope": SYNC_SCOPE, "exp": int(time.time()) + 6 * 3600, "fxa-generation": 1}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"typ": "at+jwt", "kid": "bench"})


class _Fleet:
    def __init__(self, sizes: Sizes, workdir: Path, logs: Path, env: dict[str, str], secret: str) -> None:
        self.signer = _Signer()
        self.nodes: list[ServerProcess] = []
        for i, _ in enumerate(sizes.capacities):
            port = free_port()
            node_env = dict(env, SYNCSTORAGE_TOKENSERVER_ENABLED="false")
            argv = _serve(port, f"sqlite:///{workdir / f'node{i}.db'}", secret)
            self.nodes.append(ServerProcess(f"node{i}", argv, port, node_env, Path(f"{logs}-node{i}.log")))
        port = free_port()
        self.tokenserver_env = dict(
            env,
            SYNCSTORAGE_STORAGE_ENABLED="false",
            SYNCSTORAGE_TOKEN_DURATION=str(sizes.token_seconds),
            SYNCSTORAGE_FXA_OAUTH_PRIMARY_JWK=json.dumps(self.signer.jwk),
            SYNCSTORAGE_DATABASE_URL=f"sqlite:///{workdir / 'tokenserver.db'}",
            SYNCSTORAGE_MASTER_SECRET=secret,
        )
        argv = _serve(port, self.tokenserver_env["SYNCSTORAGE_DATABASE_URL"], secret)
        self.tokenserver = ServerProcess("tokenserver", argv, port, self.tokenserver_env, Path(f"{logs}-tokenserver.log"))

    def url(self, node: ServerProcess) -> str:
        return f"http://127.0.0.1:{node.port}"

    def cli(self, *args: str) -> str:
        """A `syncstorage` command on the tokenserver's database, as an operator runs it."""
        done = subprocess.run([sys.executable, "-m", "syncstorage", *args], env=self.tokenserver_env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"syncstorage {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self, capacities: tuple[int, ...]) -> None:
        for server in [*self.nodes, self.tokenserver]:
            server.start()
        for node, capacity in zip(self.nodes, capacities):
            self.cli("node", "add", self.url(node), "--capacity", str(capacity))

    def stop(self) -> None:
        for server in [self.tokenserver, *self.nodes]:
            server.stop()


def _serve(port: int, database_url: str, secret: str) -> list[str]:
    return [sys.executable, "-m", "syncstorage", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--database-url", database_url, "--master-secret", secret,
            "--public-url", f"http://127.0.0.1:{port}"]  # fmt: skip


class _Device:
    """One user's Firefox: a token (renewed when due), a node, its records there."""

    def __init__(self, index: int, fleet: _Fleet, run: _Run) -> None:
        self.fxa_uid = f"{index + 1:032x}"
        self.oauth = fleet.signer.token(self.fxa_uid)
        self.fleet, self.run = fleet, run
        self.user: User | None = None
        self.node: str | None = None
        self.renew_at = 0.0

    async def sync(self, records: RecordFactory) -> None:
        if self.user is None or time.monotonic() >= self.renew_at:
            await self._token()
        body = encode_batch(records.records(3))
        posted = await self._post(body)
        if posted is not None and posted.status == 401:
            # as Firefox does: a token that expired in flight is renewed once
            self.run.renewed_after_401 += 1
            await self._token()
            posted = await self._post(body)
        if posted is None:  # the node is gone: a new token at once
            self.user = None
            return
        assert self.user is not None
        base = f"/1.5/{self.user.uid}"
        if not self.run.errors.check(posted.status == 200, f"{self.node} POST: {posted.status} {posted.body[:100]!r}"):
            return
        modified = orjson.loads(posted.body)["modified"]
        target = f"{base}/info/collections"
        got = await self.run.request(self.node, "GET", target, self.user.authorization("GET", target))
        if got is None:
            self.user = None
            return
        if self.run.errors.check(got.status == 200, f"{self.node} info/collections: {got.status}"):
            self.run.errors.check(orjson.loads(got.body).get("history") == modified,
                                  f"{self.node}: info/collections does not show the upload")  # fmt: skip

    async def _post(self, body: bytes):
        assert self.user is not None and self.node is not None
        target = f"/1.5/{self.user.uid}/storage/history?batch=true&commit=true"
        head = self.user.authorization("POST", target) + "Content-Type: application/json\r\n"
        return await self.run.request(self.node, "POST", target, head, body)

    async def _token(self) -> None:
        head = f"Authorization: Bearer {self.oauth}\r\nX-KeyID: 1700000000000-qqo\r\n"
        response = await self.run.request(self.fleet.url(self.fleet.tokenserver), "GET", TOKEN_PATH, head)
        if response is None or not self.run.errors.check(response.status == 200, f"token: {response and response.status}"):
            raise _NoToken
        answer = orjson.loads(response.body)
        endpoint = answer["api_endpoint"]
        node = endpoint[: endpoint.index("/1.5/")]
        if self.node is not None and node != self.node:
            self.run.moved += 1
        self.node = node
        self.user = User(answer["uid"], answer["id"], answer["key"].encode("ascii"), node)
        self.renew_at = time.monotonic() + answer["duration"]
        self.run.tokens += 1


class _NoToken(Exception):
    pass


class _Run:
    def __init__(self, fleet: _Fleet) -> None:
        self.fleet = fleet
        self.errors = Errors()
        self.latencies = Latencies()
        self.requests: Counter[str] = Counter()  # (phase, node) -> requests
        self.gone: Counter[str] = Counter()  # requests to a removed node that could not connect
        self.phase = "all nodes"
        self.tokens = 0
        self.moved = 0
        self.renewed_after_401 = 0
        self._connections: dict[str, Connection] = {}

    async def request(self, origin: str, method: str, target: str, head: str, body: bytes | None = None):
        """The response, or None when the node refused the connection."""
        key = f"{origin} {id(asyncio.current_task())}"
        connection = self._connections.get(key)
        if connection is None:
            host, port = origin.removeprefix("http://").split(":")
            connection = self._connections[key] = Connection(host, int(port))
        started = time.perf_counter()
        try:
            response = await connection.request(method, target, head, body)
        except (OSError, ConnectionClosed):
            self._connections.pop(key, None)
            self.gone[f"{self.phase}: {origin}"] += 1
            return None
        self.latencies.add(self.phase, time.perf_counter() - started)
        self.requests[f"{self.phase}: {origin}"] += 1
        return response


async def run(sizes: Sizes, workdir: Path, logs: Path, env: dict[str, str], secret: str) -> dict:
    fleet = _Fleet(sizes, workdir, logs, env, secret)
    fleet.start(sizes.capacities)
    try:
        return await _drive(fleet, sizes)
    finally:
        fleet.stop()


async def _drive(fleet: _Fleet, sizes: Sizes) -> dict:
    run = _Run(fleet)
    devices = [_Device(i, fleet, run) for i in range(sizes.users)]
    stop = asyncio.Event()

    async def worker(k: int) -> None:
        mine = devices[k :: sizes.connections]
        records = RecordFactory(seed=k)
        while not stop.is_set():
            for device in mine:
                if stop.is_set():
                    return
                try:
                    await device.sync(records)
                except _NoToken:
                    pass

    workers = [asyncio.create_task(worker(k)) for k in range(sizes.connections)]
    last = fleet.nodes[-1]
    await asyncio.sleep(sizes.phase_seconds)
    assigned = _load(fleet)
    run.phase = "drained"
    moved_by_drain = fleet.cli("node", "drain", fleet.url(last))
    await asyncio.sleep(sizes.phase_seconds)
    run.phase = "removed"
    fleet.cli("node", "remove", fleet.url(last))
    last.stop()
    await asyncio.sleep(sizes.phase_seconds)
    stop.set()
    await asyncio.gather(*workers)
    unexpected_gone = {k: v for k, v in run.gone.items() if not k.endswith(fleet.url(last)) or k.startswith("all nodes")}
    return {
        "sizes": {**sizes.__dict__, "capacities": list(sizes.capacities)},
        "users_per_node_before_drain": assigned,
        "drain_output": moved_by_drain.strip(),
        "users_per_node_at_end": _load(fleet),
        "requests": dict(run.requests),
        "removed_node_refusals": dict(run.gone),
        "tokens": run.tokens,
        "users_moved": run.moved,
        "tokens_renewed_after_401": run.renewed_after_401,
        "latency": {phase: Latencies.summary(values) for phase, values in run.latencies.by_op.items()},
        "errors": run.errors.count + sum(unexpected_gone.values()),
        "error_samples": run.errors.samples + [f"refused: {k}" for k in unexpected_gone],
    }


def _load(fleet: _Fleet) -> dict[str, int]:
    """current_load per node URL, as `node list` shows it (tab-separated when piped)."""
    lines = [line for line in fleet.cli("node", "list").splitlines() if not line.startswith("#")]
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    return {row["node"]: int(row["current_load"]) for row in rows}
