"""The database failures every user of `db/` tells apart (storage-model §5.4).

Defined here, below storage and the tokenserver, because the dialects
classify driver errors into them; `syncstorage.storage` re-exports them as
part of its interface.
"""

# Seconds a client is asked to wait (Retry-After) when a service answers 503
# because the database or another store it needs is unavailable: the storage
# API's value (storage-api §14.2), which Firefox knows; the tokenserver uses
# it too (auth-and-tokens §11.2 names none).
RETRY_AFTER_UNAVAILABLE = "10"


class StorageError(Exception):
    """Base class of every error a backend raises on purpose."""


class ConflictError(StorageError):
    """The write would not strictly advance the collection timestamp, or a
    lock could not be had (busy, lock-wait timeout, deadlock). The HTTP layer
    retries for up to `conflict_retry_seconds` (storage-api §4.3) and then
    answers 503 + Retry-After: 10."""


class UnavailableError(StorageError):
    """The database cannot be reached. HTTP answers 503 with Retry-After."""
