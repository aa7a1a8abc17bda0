"""Records that look like Firefox's: 12-character ids, encrypted-looking
payloads of a chosen size, and the orders the server must return them in
(storage-api §9.1)."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class Record:
    id: str
    payload: str
    sortindex: int | None
    modified: int = 0  # ms, set from the server's answer to the write

    def to_json(self) -> dict:
        body = {"id": self.id, "payload": self.payload}
        if self.sortindex is not None:
            body["sortindex"] = self.sortindex
        return body


class RecordFactory:
    """Deterministic (seeded) record generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def new_id(self) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(9)).decode("ascii")

    def payload(self, size: int) -> str:
        """A JSON text of exactly `size` bytes shaped like an encrypted BSO."""
        frame = '{"ciphertext":"","IV":"%s","hmac":"%s"}' % (
            base64.b64encode(self.rng.randbytes(16)).decode(),
            self.rng.randbytes(32).hex(),
        )
        room = max(0, size - len(frame))
        cipher = base64.b64encode(self.rng.randbytes(room))[:room].decode()
        return frame.replace('"ciphertext":""', f'"ciphertext":"{cipher}"', 1)

    def record(self, min_size: int = 300, max_size: int = 600) -> Record:
        return Record(
            self.new_id(),
            self.payload(self.rng.randint(min_size, max_size)),
            self.rng.randint(-1000, 1_000_000),
        )

    def records(self, count: int, min_size: int = 300, max_size: int = 600) -> list[Record]:
        return [self.record(min_size, max_size) for _ in range(count)]


def newest_first(records) -> list[Record]:
    """Default/`newest` order: modified desc, id desc."""
    return sorted(records, key=lambda r: (r.modified, r.id), reverse=True)


def by_index(records) -> list[Record]:
    """`index` order: sortindex desc (null last), id desc."""
    return sorted(
        records,
        key=lambda r: (r.sortindex is not None, r.sortindex or 0, r.id),
        reverse=True,
    )


def encode_batch(records: list[Record]) -> bytes:
    return orjson.dumps([r.to_json() for r in records])
