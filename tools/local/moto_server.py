"""A DynamoDB/SQS/SNS/S3-compatible server (moto) on loopback, for `make run` and the integration
tests.

Unlike `moto_server`, it handles one request at a time: moto's DynamoDB checks a condition and
writes the item in two steps with no lock between them, so two concurrent conditional puts could
both succeed, which DynamoDB itself never does. Serialized (one lock around moto), every
conditional write is atomic, as in DynamoDB. Connections are still accepted on threads, and an
SQS long poll (`WaitTimeSeconds` > 0) does not hold the lock while it waits: it is answered by
short receives under the lock with pauses outside it, so a consumer long-polling a queue never
stalls the intake, the worker or kycctl.

It also makes moto's SQS as strict as SQS about message contents: SQS refuses a message holding
a character outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
(InvalidMessageContents), and counts MaximumMessageSize in UTF-8 bytes; moto checks neither, so
without this a test could not see a message that the real queue would refuse. Likewise S3: a
PutObject into an Object Lock bucket must carry a checksum. (Create-only writes, `If-None-Match:
*`, and Object Lock's refusal to delete a retained version, moto enforces itself.)

For benchmarks, `--keep-alive` serves the same app with waitress, which keeps connections open
as AWS does (moto's own server closes every one, so each SDK call would pay a TCP connection),
still one request inside moto at a time (`--threads`: connections served at once); `--latency-ms` adds a sleep to each
request, standing in for the network round trip to AWS (the sleep releases Python's lock, so
threads overlap it as requests to AWS overlap).

Quiet by default: moto's access log (a line per request, and a red 400 for every conditional
write that is expected to fail) only with `--access-log`.

usage: python moto_server.py [--host 127.0.0.1] [--port 4566] [--exit-with-parent] [--access-log]
                             [--keep-alive [--threads N] [--latency-ms MS]]
       python moto_server.py --warm   (bytecode for what the server and the checkers import)
"""

import argparse
import io
import json
import os
import re
import sys
import threading
import time
import urllib.parse

from moto.sqs.exceptions import InvalidParameterValue, SQSException
from moto.sqs.models import SQSBackend

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


REFUSED_BY_SQS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def cached_service_names() -> None:
    """moto lists its own package folder on every request to tell whether the Host names a
    service (`list_of_moto_modules`): a directory scan per call, an eighth of its time under the
    tests. The folder does not change while it runs, so the list is read once."""
    from moto import backends

    names = list(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: names


# The DynamoDB calls whose answers are items: the ones the functions and the tests make by the
# thousand, some carrying a journey item of up to 64 KiB.
ITEM_ANSWERS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def plain_json(value) -> bool:  # type: ignore[no-untyped-def]
    """Whether `value` is JSON as it stands: dicts, lists, strings, numbers and booleans."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain_json(v) for v in value)
    return isinstance(value, (str, bool, int, float))


def direct_dynamodb_answers() -> None:
    """moto answers DynamoDB by walking botocore's shape of the operation over every attribute of
    every item (`ResponseSerializer`): under the tests, a sixth of its time. An item answer that is
    already plain JSON (no bytes, no timestamps, no None: what DynamoDB's JSON protocol sends as
    it is) is written with `json.dumps` instead; anything else, errors included, takes moto's way.
    KYC_MOTO_COMPARE_ANSWERS=<file> computes both and appends to the file every answer where they
    differ (the integration suite with it set wrote none)."""
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.serialized
    members_of: dict[str, frozenset[str]] = {}

    def answer_members(action: str) -> frozenset[str]:
        if action not in members_of:
            shape = get_service_model("dynamodb").operation_model(action).output_shape
            members_of[action] = frozenset(shape.members if shape else ())
        return members_of[action]

    compare = os.environ.get("KYC_MOTO_COMPARE_ANSWERS")

    def serialized(self, action_result):  # type: ignore[no-untyped-def]
        action = self._get_action()
        result = action_result.result
        if action not in ITEM_ANSWERS or not isinstance(result, dict) or not plain_json(result):
            return original(self, action_result)
        # Only what the operation's answer has (moto adds a key of its own to some).
        members = answer_members(action)
        result = {k: v for k, v in result.items() if k in members}
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        headers.update(self.response_headers)
        answer = (200, headers, json.dumps(result, separators=(",", ":")))
        if compare:
            status, moto_headers, body = original(self, action_result)
            if (status, moto_headers, json.loads(body or "{}")) != (200, headers, result):
                with open(compare, "a", encoding="utf-8") as report:
                    report.write(
                        f"{action}: moto {status} {moto_headers} {body[:400]!r}\n"
                        f"  direct {headers} {answer[2][:400]!r}\n"
                    )
        return answer

    DynamoHandler.serialized = serialized


def retention_read_directly() -> None:
    """moto checks each received message against the queue's retention period by computing every
    attribute of the queue (each count a scan of its messages), up to ten times a receive; the
    period is read from the queue instead."""

    def valid(self, queue_name, message):  # type: ignore[no-untyped-def]
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > time.time()

    SQSBackend.is_message_valid_based_on_retention_period = valid


def plain_sqs_clock() -> None:
    """moto's SQS asks the time for every message of a queue each time it counts them (visible,
    delayed), and it counts them on every send and receive: its clock builds two datetimes per
    call, a twentieth of its time under the tests. Its SQS reads the same instant from
    `time.time()` (a given datetime is still converted as moto does)."""
    import moto.sqs.models as sqs

    converted_s, converted_ms = sqs.unix_time, sqs.unix_time_millis

    def unix_time(dt=None):  # type: ignore[no-untyped-def]
        return time.time() if dt is None else converted_s(dt)

    def unix_time_millis(dt=None):  # type: ignore[no-untyped-def]
        return time.time() * 1000.0 if dt is None else converted_ms(dt)

    sqs.unix_time, sqs.unix_time_millis = unix_time, unix_time_millis


def queue_attributes_once_per_send() -> None:
    """A send reads the queue's ContentBasedDeduplication four times, and each read computes every
    attribute of the queue, counting its messages three times over. Within one SendMessage the
    attributes are computed once (a send reads no count)."""
    from moto.sqs.models import Queue

    computed = Queue.attributes.fget
    sending = threading.local()

    def attributes(self):  # type: ignore[no-untyped-def]
        memo = getattr(sending, "memo", None)
        if memo is None:
            return computed(self)
        if self not in memo:
            memo[self] = computed(self)
        return memo[self]

    send = SQSBackend.send_message

    def send_message(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        sending.memo = {}
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.memo = None

    Queue.attributes = property(attributes)
    SQSBackend.send_message = send_message


def strict_sqs_messages() -> None:
    original = SQSBackend._validate_message

    def validate(self, queue, message_body, *args, **kwargs):  # type: ignore[no-untyped-def]
        bad = REFUSED_BY_SQS.search(message_body)
        if bad:
            raise SQSException(
                "InvalidMessageContents",
                f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message body, "
                "the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | "
                "#xE000 to #xFFFD | #x10000 to #x10FFFF",
            )
        size = len(message_body.encode("utf-8", "surrogatepass"))
        if size > int(queue.maximum_message_size):
            raise InvalidParameterValue(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{queue.maximum_message_size} bytes."
            )
        return original(self, queue, message_body, *args, **kwargs)

    SQSBackend._validate_message = validate


def strict_s3_object_lock(app):  # type: ignore[no-untyped-def]
    """S3 refuses a PutObject into an Object Lock bucket that carries no checksum (Content-MD5 or
    x-amz-checksum-*); moto accepts it. Refuse it here as S3 does, so a client that would fail on
    the real archive bucket fails locally too."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    def locked(bucket: str) -> bool:
        found = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets.get(bucket)
        return bool(found and found.object_lock_enabled)

    def wrapped(environ, start_response):  # type: ignore[no-untyped-def]
        is_s3 = "/s3/aws4_request" in environ.get("HTTP_AUTHORIZATION", "")
        bucket, _, key = environ.get("PATH_INFO", "").lstrip("/").partition("/")
        put_object = environ.get("REQUEST_METHOD") == "PUT" and key and not environ.get("QUERY_STRING")
        checksum = "HTTP_CONTENT_MD5" in environ or any(
            k.startswith("HTTP_X_AMZ_CHECKSUM_") for k in environ
        )
        if is_s3 and put_object and not checksum and locked(bucket):
            body = (
                b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidRequest</Code>"
                b"<Message>Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object "
                b"requests with Object Lock parameters</Message></Error>"
            )
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"].read(length)  # the request is answered only once it is read
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return app(environ, start_response)

    return wrapped


class FairLock:
    """A lock taken in the order it was asked for (a ticket lock): under load no request waits
    behind later ones, as Python's own lock would let happen."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turns:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._turns.wait()

    def __exit__(self, *_exc) -> None:  # type: ignore[no-untyped-def]
        with self._turns:
            self._serving += 1
            self._turns.notify_all()


MOTO = FairLock()
LONG_POLL_PAUSE_S = 0.05


def long_poll(environ):  # type: ignore[no-untyped-def]
    """An SQS ReceiveMessage that waits (JSON or query protocol): its wait in seconds and the
    same request body asking not to wait; None for any other request. Reads the body."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if target == "AmazonSQS.ReceiveMessage":
        body = environ["wsgi.input"].read(length)
        request = json.loads(body or b"{}")
        wait = int(request.get("WaitTimeSeconds") or 0)
        request["WaitTimeSeconds"] = 0
        return wait, body, json.dumps(request).encode()
    if target or environ.get("REQUEST_METHOD") != "POST" or "/sqs/aws4_request" not in environ.get(
        "HTTP_AUTHORIZATION", ""
    ):
        return None
    body = environ["wsgi.input"].read(length)
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    if form.get("Action") != ["ReceiveMessage"]:
        return 0, body, body
    wait = int((form.get("WaitTimeSeconds") or ["0"])[0] or 0)
    form["WaitTimeSeconds"] = ["0"]
    return wait, body, urllib.parse.urlencode(form, doseq=True).encode()


def received_something(chunks) -> bool:  # type: ignore[no-untyped-def]
    body = b"".join(chunks)
    if body.lstrip().startswith(b"{"):
        try:
            return bool(json.loads(body).get("Messages"))
        except ValueError:
            return True
    return b"<Message>" in body


def serialized(app):  # type: ignore[no-untyped-def]
    """One request inside moto at a time; a long poll waits outside the lock."""

    def with_body(environ, body: bytes):  # type: ignore[no-untyped-def]
        copy = dict(environ)
        copy["wsgi.input"] = io.BytesIO(body)
        copy["CONTENT_LENGTH"] = str(len(body))
        return copy

    def call(environ):  # type: ignore[no-untyped-def]
        answer = {}

        def start_response(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            answer["start"] = (status, headers, exc_info)
            return lambda _data: None

        with MOTO:
            chunks = list(app(environ, start_response))
        return answer["start"], chunks

    def wrapped(environ, start_response):  # type: ignore[no-untyped-def]
        poll = long_poll(environ)
        if poll is None:
            (status, headers, exc_info), chunks = call(environ)
            start_response(status, headers, exc_info)
            return chunks
        wait, original, short = poll
        if wait <= 0:
            (status, headers, exc_info), chunks = call(with_body(environ, original))
            start_response(status, headers, exc_info)
            return chunks
        deadline = time.monotonic() + wait
        while True:
            (status, headers, exc_info), chunks = call(with_body(environ, short))
            done = not status.startswith("200") or received_something(chunks)
            if done or time.monotonic() >= deadline:
                start_response(status, headers, exc_info)
                return chunks
            time.sleep(LONG_POLL_PAUSE_S)

    return wrapped


def watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


# The services the local stack calls, and what the tests' other Pythons import.
LOCAL_SERVICES = ("dynamodb", "sqs", "s3", "sns", "kms", "sts", "secretsmanager")
CHECKERS = (
    "jsonschema",
    "rfc3339_validator",
    "cloudevents.core.formats.json",
    "boto3",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "cryptography.hazmat.primitives.asymmetric.ec",
)


def warm() -> None:
    """Imports what the local server and the tests' checkers run, so that an interpreter allowed
    to write bytecode leaves it beside each module (`make` runs this once, after installing):
    where PYTHONDONTWRITEBYTECODE is set, every Python the tests start would otherwise compile
    those imports again. Compiling the whole virtualenv instead (moto's 170 services, and SymPy
    for its CloudFormation linter) took 24 CPU-seconds; this takes 3."""
    import importlib

    for service in LOCAL_SERVICES:
        for part in ("models", "responses", "urls"):
            importlib.import_module(f"moto.{service}.{part}")
    for module in CHECKERS:
        importlib.import_module(module)
    cached_service_names()
    direct_dynamodb_answers()
    DomainDispatcherApplication(create_backend_app)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--exit-with-parent", action="store_true")
    parser.add_argument("--keep-alive", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--warm", action="store_true")
    args = parser.parse_args()
    if args.warm:
        warm()
        return
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to listen anywhere but loopback")
    os.environ.setdefault("MOTO_PORT", str(args.port))
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    cached_service_names()
    direct_dynamodb_answers()
    retention_read_directly()
    plain_sqs_clock()
    queue_attributes_once_per_send()
    strict_sqs_messages()
    app = serialized(strict_s3_object_lock(DomainDispatcherApplication(create_backend_app)))
    if args.keep_alive:
        from waitress import serve

        served = app
        if args.latency_ms > 0:
            delay = args.latency_ms / 1000.0

            def served(environ, start_response):  # type: ignore[no-redef]
                time.sleep(delay)
                return app(environ, start_response)

        print(f"moto (keep-alive) listening on http://{args.host}:{args.port}", flush=True)
        # Threads accept and wait (a long poll, the latency); moto itself serves one at a time.
        threads = max(args.threads, 4)
        serve(served, host=args.host, port=args.port, threads=threads, _quiet=True)
        return
    handler = MotoRequestHandler
    if not args.access_log:

        class QuietHandler(MotoRequestHandler):  # type: ignore[misc, valid-type]
            def log_request(self, *_args, **_kwargs):  # type: ignore[no-untyped-def]
                pass

        handler = QuietHandler
    try:
        server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    except OSError as e:
        sys.exit(f"moto_server: cannot listen on {args.host}:{args.port}: {e.strerror}")
    print(f"moto listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
