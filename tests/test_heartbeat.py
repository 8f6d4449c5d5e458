"""A running step prints its latest log line to the console every few seconds, and stops with it."""

from __future__ import annotations

import io
import time

from sharpness.pipeline.heartbeat import heartbeat


def test_a_long_step_prints_its_latest_progress_until_it_ends():
    console = io.StringIO()
    with heartbeat("logs/alpha/seed0/sgd/train.log", every=0.05, stream=console) as pulse:
        pulse.note("epoch 1/3 train_loss 2.1")
        pulse.note("epoch 2/3 train_loss 1.4\n")
        time.sleep(0.3)
    lines = console.getvalue().splitlines()
    assert lines and all(line.endswith("running logs/alpha/seed0/sgd/train.log: epoch 2/3 train_loss 1.4") for line in lines)
    time.sleep(0.15)
    assert console.getvalue().splitlines() == lines, "nothing after the step ended"


def test_a_short_step_prints_nothing():
    console = io.StringIO()
    with heartbeat("logs/x.log", every=10, stream=console) as pulse:
        pulse.note("done")
    assert console.getvalue() == ""
