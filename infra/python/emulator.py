"""The AWS emulator for local runs and tests: moto's server, one request at a time.

moto's own `moto_server` serves requests on parallel threads, but its DynamoDB
transactions are not isolated from each other across threads (a cancelled
transaction restores a copy of the table taken when it started). DynamoDB
serialises conflicting transactions, so serving requests one at a time is the
faithful choice here; the concurrency tests depend on it.

moto keeps everything in memory. With `--journal FILE`, every request that
changed state and succeeded is appended to FILE (and fsync'd) before its answer
is sent, and a restarted emulator replays FILE before it listens: whatever the
emulator acknowledged survives a crash or restart, as it would in DynamoDB.
Replay runs each request at its original time, so stream ARNs and records come
back the same and a stream reader resumes from its checkpoint.

    python infra/python/emulator.py --host 127.0.0.1 --port 4566 [--journal FILE]
"""

import argparse
import base64
import datetime
import io
import json
import os
import signal
import sys
import time

from werkzeug.serving import run_simple
from werkzeug.test import EnvironBuilder

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler

# X-Amz-Target operations (DynamoDB, its streams, SSM …) that only read.
READ_ONLY_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet")
# Headers replay needs: the protocol's own (target, content type), and the
# date and authorization that tell moto the region and account.
REPLAYED_HEADERS = ("content-type", "x-amz-target", "x-amz-date", "authorization", "host")


def changes_state(environ) -> bool:
    """Whether a request may change the emulator's state (so it must be journaled)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return False
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        operation = target.rsplit(".", 1)[-1]
        return not operation.startswith(READ_ONLY_PREFIXES)
    return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")


class Journal:
    """An append-only file of the state-changing requests that succeeded, in order."""

    def __init__(self, path: str):
        self.path = path
        self.file = open(path, "a", encoding="utf-8")

    def append(self, environ, body: bytes, at: float) -> None:
        headers = {
            name: environ[key]
            for name in REPLAYED_HEADERS
            if (key := "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_"))
            in environ
        }
        entry = {
            "at": at,
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", "/"),
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body": base64.b64encode(body).decode("ascii"),
        }
        self.file.write(json.dumps(entry) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())


class RequestClock:
    """DynamoDB's clock (stream labels, record times) held at one instant per
    request, so a replayed request sees the same time as the original did."""

    def __init__(self):
        from moto.dynamodb.models import table as dynamodb_tables

        self.module = dynamodb_tables
        self.real = dynamodb_tables.utcnow
        self.at = None
        dynamodb_tables.utcnow = lambda: self.at if self.at is not None else self.real()

    def hold(self, at: float) -> None:
        self.at = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).replace(tzinfo=None)

    def release(self) -> None:
        self.at = None


def journaled(app, journal: Journal, clock: RequestClock):
    """WSGI middleware: journals each successful state-changing request before answering it."""

    def middleware(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if not changes_state(environ):
            return app(environ, start_response)
        at = time.time()
        answer = {}

        def capture(status, headers, exc_info=None):
            answer["status"] = status
            answer["headers"] = headers
            return lambda data: None

        clock.hold(at)
        try:
            chunks = b"".join(app(environ, capture))
        finally:
            clock.release()
        if answer["status"].startswith("2"):
            journal.append(environ, body, at)
        start_response(answer["status"], answer["headers"])
        return [chunks]

    return middleware


def replay(app, path: str, clock: RequestClock) -> int:
    """Applies a journal's requests to a fresh emulator, each at its original time."""
    replayed = 0
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                entry = json.loads(line)
                clock.hold(entry["at"])
                headers = dict(entry["headers"])
                content_type = headers.pop("content-type", None)
                environ = EnvironBuilder(
                    method=entry["method"],
                    path=entry["path"],
                    query_string=entry["query"],
                    headers=headers,
                    content_type=content_type,
                    data=base64.b64decode(entry["body"]),
                ).get_environ()
                for _ in app(environ, lambda *args: (lambda data: None)):
                    pass
                replayed += 1
    finally:
        clock.release()
    return replayed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--journal", help="keep acknowledged changes in this file and replay it at start")
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    if args.journal:
        clock = RequestClock()
        if os.path.exists(args.journal):
            count = replay(app, args.journal, clock)
            print(f"replayed {count} journaled requests from {args.journal}", file=sys.stderr, flush=True)
        app = journaled(app, Journal(args.journal), clock)
    run_simple(
        args.host,
        args.port,
        app,
        threaded=False,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
