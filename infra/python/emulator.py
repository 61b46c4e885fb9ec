"""The AWS emulator for local runs and tests: moto's server, one request at a time.

moto's own `moto_server` serves requests on parallel threads, but its DynamoDB
transactions are not isolated from each other across threads (a cancelled
transaction restores a copy of the table taken when it started). DynamoDB
serialises conflicting transactions, so serving requests one at a time is the
faithful choice here; the concurrency tests depend on it.

    python infra/python/emulator.py --host 127.0.0.1 --port 4566
"""

import argparse
import os
import signal
import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    run_simple(
        args.host,
        args.port,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
