"""A DynamoDB/SQS-compatible server (moto) on loopback, for `make run` and the integration tests.

Unlike `moto_server`, it serves one request at a time: moto's DynamoDB checks a condition and
writes the item in two steps with no lock between them, so a threaded server could let two
concurrent conditional puts both succeed, which DynamoDB itself never does. Serialized, every
conditional write is atomic, as in DynamoDB.

usage: python moto_server.py [--host 127.0.0.1] [--port 4566] [--exit-with-parent]
"""

import argparse
import os
import sys
import threading
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to listen anywhere but loopback")
    os.environ.setdefault("MOTO_PORT", str(args.port))
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        args.host, args.port, app, threaded=False, request_handler=MotoRequestHandler
    )
    print(f"moto listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
