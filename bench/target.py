"""What a workload drives: a running server and the secret to mint tokens."""

from __future__ import annotations

from dataclasses import dataclass

from bench.httpclient import Connection
from bench.servers import ServerProcess
from bench.stats import Errors, Latencies
from bench.syncclient import SyncClient
from bench.users import User


@dataclass
class Target:
    server: ServerProcess
    secret: str
    host: str = "127.0.0.1"
    first_uid: int = 1  # workloads use disjoint uid ranges

    @property
    def node(self) -> str:
        return f"http://{self.host}:{self.server.port}"

    def users(self, count: int) -> list[User]:
        start, self.first_uid = self.first_uid, self.first_uid + count
        return [
            User.mint(uid, self.secret, self.node)
            for uid in range(start, start + count)
        ]

    def connection(self) -> Connection:
        return Connection(self.host, self.server.port)

    def clients(self, count: int, latencies: Latencies, errors: Errors) -> list[SyncClient]:
        """New users, each with a connection of its own."""
        return [SyncClient(u, self.connection(), latencies, errors) for u in self.users(count)]
