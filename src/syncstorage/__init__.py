"""A Firefox Sync 1.5 storage server with its tokenserver."""

__version__ = "0.1.0"
