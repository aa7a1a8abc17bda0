"""The database failures every user of `db/` tells apart (storage-model §5.4).

Defined here, below storage and the tokenserver, because the dialects
classify driver errors into them; `syncstorage.storage` re-exports them as
part of its interface.
"""


class StorageError(Exception):
    """Base class of every error a backend raises on purpose."""


class ConflictError(StorageError):
    """The write would not strictly advance the collection timestamp, or a
    lock could not be had (busy, lock-wait timeout, deadlock). The HTTP layer
    retries once (storage-api §4.3) and then answers 503 + Retry-After: 10."""


class UnavailableError(StorageError):
    """The database cannot be reached. HTTP answers 503 with Retry-After."""
