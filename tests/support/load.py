"""Closed-loop load from client threads that start together and stop at one deadline (benchmark support).

Each thread prepares, waits for the others, then works until the shared deadline::

    def work(i: int, ready: Callable[[], float]) -> None:
        connection = connect()
        deadline = ready()
        while time.perf_counter() < deadline:
            send(connection)

    elapsed = threads_for(16, 10.0, work)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["threads_for"]

#: Seconds every thread has to get ready (connect, warm up) before the run is given up.
SETUP_TIMEOUT = 60.0


def threads_for(threads: int, seconds: float, work: Callable[[int, Callable[[], float]], object]) -> float:
    """Runs ``work(i, ready)`` in ``threads`` threads (``i`` = 0 .. threads-1) and returns the seconds from
    the clock's start to the last thread's end. Each thread prepares what it needs, then calls ``ready()``:
    it waits until every thread is ready and returns the deadline, ``seconds`` after the clock's start, at
    which the thread should stop. The clock starts when every thread is ready (their connections open), so
    preparation is not counted; a thread that fails before it is ready breaks the barrier
    (``BrokenBarrierError`` after ``SETUP_TIMEOUT``) rather than leaving the others waiting for ever."""
    prepared = threading.Barrier(threads + 1, timeout=SETUP_TIMEOUT)
    go = threading.Barrier(threads + 1, timeout=SETUP_TIMEOUT)
    deadline = 0.0

    def ready() -> float:
        prepared.wait()
        go.wait()
        return deadline

    workers = [threading.Thread(target=work, args=(i, ready)) for i in range(threads)]
    for worker in workers:
        worker.start()
    prepared.wait()
    began = time.perf_counter()
    deadline = began + seconds
    go.wait()
    for worker in workers:
        worker.join()
    return time.perf_counter() - began
