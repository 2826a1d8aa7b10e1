"""Decode worker processes: each holds a Decoder and decodes partitions' raw messages."""

from __future__ import annotations

import os
import signal
import threading
import time

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import DecodedPart, EventMsg, Raw, to_part

# ---- worker processes --------------------------------------------------------------------------

_worker_decoder: Decoder | None = None


def worker_init(spec: DecoderSpec, hub_pid: int, parent_check_s: float, nice: int = 0) -> None:
    """Initializer of a decode worker process; it lowers its CPU priority by `nice` and checks
    every parent_check_s that the hub that started it still runs."""
    global _worker_decoder
    if nice > 0:
        # Reads first: the kernel gives a core to the hub's event loop before a decode worker.
        os.nice(nice)
    # Ctrl-C and `kill -TERM` reach the whole process group; the hub itself decides when its
    # workers stop (and they exit on their own if it dies), so they must not die mid-batch
    # or print tracebacks into the hub's log.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker_decoder = Decoder(spec)
    # hub_pid comes from the hub itself: it may already be gone by the time this runs.
    threading.Thread(target=_exit_with_parent, args=(hub_pid, parent_check_s), daemon=True).start()


def _exit_with_parent(parent: int, interval: float) -> None:
    """End this worker once the hub that started it is gone (e.g. SIGKILLed).

    The pool's queues keep a worker blocked forever otherwise: it holds both ends of them,
    so it never sees the hub's side close.
    """
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(0)


def worker_ready() -> bool:
    """A no-op run in each worker at start, so spawning and imports happen before a backlog."""
    return _worker_decoder is not None


def worker_decode(raws: list[Raw]) -> DecodedPart:
    """Decode in a worker process; bytes are not sent back (the caller still has them)."""
    assert _worker_decoder is not None, "worker_init was not run"
    items = _worker_decoder.decode_many(raws)
    for d in items:
        if isinstance(d, EventMsg):
            d.raw = b""
    return to_part(items)
