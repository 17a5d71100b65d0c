"""`make consume`: the README's consumer (docs/consumer.py), run as written, on the local stack.

Two things differ from running it bare, both for a terminal on a laptop: each receive is a short
poll (botocore's own parameter hook sets WaitTimeSeconds to 1), so Ctrl-C never leaves a 20-second
long poll holding the next event out of sight for the queue's visibility timeout; and Ctrl-C ends
it with one line instead of a traceback.
"""
import runpy
import sys

SHORT_POLL_SECONDS = 1


def short_poll(params, **_):
    params["WaitTimeSeconds"] = min(params.get("WaitTimeSeconds", 0), SHORT_POLL_SECONDS)


def main(script):
    # Every client the script makes comes from boto3's default session, whose botocore session
    # this hook is registered on before the script runs.
    import boto3

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION._session.register(
        "provide-client-params.sqs.ReceiveMessage", short_poll
    )
    try:
        runpy.run_path(script, run_name="__main__")
    except KeyboardInterrupt:
        print("consumer stopped", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/consumer.py")
