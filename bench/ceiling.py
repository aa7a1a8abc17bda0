"""The ceiling: what Python HTTP plus Hawk authentication can do on this
machine, with no storage behind it (issue 6, "ceiling").

A bare ASGI app that authenticates every /1.5/ request with the project's
HawkAuthenticator (real MACs, real token checks, real nonce store) and
answers with canned bodies of realistic size. It is served by uvicorn with
the options `syncstorage serve` uses, so the steady workload's requests/s
against it is the upper bound for the real server in the same run.

    python -m bench.ceiling --port 8001 [--workers N]   # settings from SYNCSTORAGE_*
"""

from __future__ import annotations

import argparse

import orjson

from syncstorage.auth import AuthError, HawkAuthenticator, make_nonce_store
from syncstorage.settings import Settings
from syncstorage.timestamps import format_ms, now_ms

_CANNED_COLLECTIONS = {
    name: 1700000000.12 for name in ("bookmarks", "history", "clients", "tabs", "meta", "crypto")
}
# Three records of ~450 bytes: the typical answer to an incremental fetch.
_CANNED_RECORDS = orjson.dumps(
    [{"id": f"record{i:06d}", "modified": 1700000000.12, "payload": "x" * 450} for i in range(3)]
)
_JSON = (b"content-type", b"application/json")


def create_app():
    settings = Settings()
    authenticator = HawkAuthenticator.from_settings(settings, make_nonce_store(settings.nonce_store_url))

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, headers, answer = respond(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def respond(scope, body: bytes) -> tuple[int, list, bytes]:
        path, method = scope["path"], scope["method"]
        if path == "/__lbheartbeat__":
            return 200, [_JSON], b"{}"
        parts = path.split("/")  # "", "1.5", uid, "info"|"storage", ...
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            authenticator.authenticate(
                method=method,
                path=path,
                query_string=scope["query_string"].decode("latin-1"),
                headers=headers,
                scheme=scope["scheme"],
                path_uid=int(parts[2]),
                allow_expired=path.endswith("/info/collections"),
            )
        except (AuthError, ValueError, IndexError):
            return 401, [_JSON], b"0"
        now = format_ms(now_ms()).encode()
        stamp = [_JSON, (b"x-weave-timestamp", now), (b"x-last-modified", now)]
        if parts[3] == "info":
            # "anything new since a real timestamp?": no (304); since 0: the map
            if headers.get("x-if-modified-since", "0") not in ("0", "0.00"):
                return 304, stamp[1:], b""
            return 200, stamp, orjson.dumps(_CANNED_COLLECTIONS)
        if method == "GET":
            return 200, stamp, _CANNED_RECORDS
        if method == "POST":
            ids = [item["id"] for item in orjson.loads(body)]
            answer = {"modified": float(now), "success": ids, "failed": {}}
            return 200, stamp, orjson.dumps(answer)
        if method == "PUT":
            orjson.loads(body)
            return 200, stamp, now
        return 200, stamp, b'{"modified": ' + now + b"}"  # DELETE item

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # The uvicorn options of `syncstorage serve` (src/syncstorage/cli/serve.py).
    uvicorn.run(
        "bench.ceiling:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
