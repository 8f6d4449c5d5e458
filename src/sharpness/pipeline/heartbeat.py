"""A long job's progress on the console: its latest log line, every 30 s while it runs.

Each step writes its progress (one line per epoch, per measured step, …) to its own log file;
the console shows one line per finished job. A job that runs for minutes would leave the
console silent, so while a step runs a daemon thread prints the step's latest log line to
stderr (which Snakemake passes through) every ``every`` seconds. Jobs shorter than that print
nothing. The thread only reads a string: it cannot change what the step computes.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

EVERY_S = 30.0


class Heartbeat:
    def __init__(self, label: str):
        self.label = label
        self.latest = "started"
        self.stop = threading.Event()

    def note(self, message: str) -> None:
        """Remember a log message (its last non-empty line) as the job's latest progress."""
        lines = [line for line in message.splitlines() if line.strip()]
        if lines:
            self.latest = lines[-1].strip()

    def beat(self, every: float, stream) -> None:
        while not self.stop.wait(every):
            stream.write(f"[{time.strftime('%H:%M:%S')}] running {self.label}: {self.latest}\n")
            stream.flush()


@contextmanager
def heartbeat(label: str, every: float = EVERY_S, stream=None):
    """Print ``label`` and the latest noted message every ``every`` seconds until the block ends."""
    pulse = Heartbeat(label)
    thread = threading.Thread(target=pulse.beat, args=(every, stream or sys.stderr), daemon=True)
    thread.start()
    try:
        yield pulse
    finally:
        pulse.stop.set()
