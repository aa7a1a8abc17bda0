"""Whether two database URLs name the same database: `import-syncserver`
refuses to read this server's own database, and `node migrate` refuses
to copy a node's data onto itself."""

from __future__ import annotations

import os

from sqlalchemy.engine import URL

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def same_database(a: URL, b: URL) -> bool:
    """Whether two URLs, however written, name one database: one SQLite file
    (relative or absolute, through links), or one database (and schema
    search path) on one server. Users and drivers do not matter."""

    def family(url: URL) -> str:
        name = url.get_backend_name()
        return {"postgres": "postgresql", "mariadb": "mysql"}.get(name, name)

    def place(url: URL) -> tuple:
        host = (url.host or "localhost").lower()
        return ("loopback" if host in _LOOPBACK else host, url.port or _DEFAULT_PORTS.get(family(url)),
                url.database, url.query.get("options"))

    if family(a) != family(b):
        return False
    if family(a) == "sqlite":
        try:
            return os.path.samefile(a.database or "", b.database or "")
        except OSError:  # one of them does not exist (yet)
            return False
    return place(a) == place(b)
