"""A handler for the ``vermilion worker`` command line.

    cd examples
    vermilion worker worker_cli_handler:handle --stream emails --group senders \\
        --concurrency 4 --handler-timeout 30 --url redis://localhost:6379

Stop it with Ctrl-C or SIGTERM: it finishes what it is doing (``--grace``
seconds), hands the rest to other workers and exits 0. The CLI's client does not
decode replies, so field names and values are bytes.
"""

from vermilion.patterns import Retry, Unrecoverable


def handle(entry):
    to = entry.fields.get(b"to")
    if not to:
        raise Unrecoverable("no recipient")
    if entry.attempt > 1:
        print(f"retrying {entry.id} (attempt {entry.attempt})")
    if to.endswith(b"@busy.example"):
        raise Retry("mail server busy", delay=5)
    print(f"sending {entry.fields.get(b'subject', b'')!r} to {to.decode()}")
