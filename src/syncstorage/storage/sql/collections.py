"""The process-wide collection name <-> id cache (storage-model §4.2)."""

from __future__ import annotations

import logging
import threading

from .schema import STANDARD_COLLECTIONS

log = logging.getLogger(__name__)

MAX_COLLECTIONS_CACHE_SIZE = 1000


class CollectionIdCache:
    """Bidirectional name <-> id map, pre-filled with the standard collections.

    Callers only add ids read from committed data (a rolled-back insert would
    otherwise leave a dangling entry). Once `max_size` entries are held it
    stops growing, warns once, and lookups of the rest go to the database.
    One instance per storage object: ids are per database, and a server
    process has one storage object.
    """

    def __init__(self, max_size: int = MAX_COLLECTIONS_CACHE_SIZE):
        self.max_size = max_size
        self._ids: dict[str, int] = dict(STANDARD_COLLECTIONS)
        self._names: dict[int, str] = {cid: name for name, cid in STANDARD_COLLECTIONS.items()}
        self._lock = threading.Lock()
        self._warned = False

    def __len__(self) -> int:
        return len(self._ids)

    def id(self, name: str) -> int | None:
        return self._ids.get(name)

    def name(self, collectionid: int) -> str | None:
        return self._names.get(collectionid)

    def add(self, name: str, collectionid: int) -> None:
        with self._lock:
            if name in self._ids:
                return
            if len(self._ids) >= self.max_size:
                if not self._warned:
                    log.warning(
                        "collection id cache is full (%d entries); "
                        "further collection names are looked up in the database",
                        self.max_size,
                    )
                    self._warned = True
                return
            self._ids[name] = collectionid
            self._names[collectionid] = name
