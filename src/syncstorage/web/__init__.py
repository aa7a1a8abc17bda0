"""The HTTP layer of the storage API (storage-api.md); see docs/architecture.md."""
