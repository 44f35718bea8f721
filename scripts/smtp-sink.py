#!/usr/bin/env python3
"""A local SMTP sink: a real SMTP server (aiosmtpd) that accepts every mail and writes
each one, as received, to DIR/<time>-<n>.eml (written to a temporary name first, then
renamed, so a reader never sees half a mail). Used by `make run` (.run/mail/) and by the
tests, which start one of their own.

    smtp-sink.py --port 2525 --dir .run/mail [--host 127.0.0.1] [--delay SECONDS]

--delay holds every DATA for that long before it answers (a slow server, for tests).
"""
import argparse
import asyncio
import itertools
import os
import signal
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, delay):
        self.directory = directory
        self.delay = delay
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        name = "%d-%04d.eml" % (time.time_ns(), next(self.numbers))
        final = os.path.join(self.directory, name)
        partial = final + ".part"
        with open(partial, "wb") as out:
            out.write(envelope.original_content or envelope.content)
        os.rename(partial, final)
        print("mail from %s to %s: %s" % (envelope.mail_from, ", ".join(envelope.rcpt_tos), name), flush=True)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Sink(args.dir, args.delay), hostname=args.host, port=args.port)
    controller.start()
    print("smtp sink on %s:%d, mails in %s" % (args.host, args.port, args.dir), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        while not stop:
            time.sleep(0.2)
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
