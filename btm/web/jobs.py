"""A bounded pool of worker processes for imports and reports.

The web server's event loop never reads a spreadsheet itself: every import, analysis and report
runs in a worker process (``spawn``ed, so no thread state of the server is copied), at most
``workers`` at a time and at most ``queue`` waiting. A job that runs longer than ``timeout``
seconds, or a worker that dies (out of memory, a crash in a native reader), restarts the pool;
the job gets a plain error and the page stays responsive. Jobs return plain data
(:mod:`btm.web._engine`), so nothing depends on pickling exceptions.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["Busy", "JobPool"]


class Busy(Exception):
    """More jobs are waiting than the queue allows."""


class JobPool:
    def __init__(self, *, workers: int | None = None, queue: int = 64, timeout: float = 900.0, warm: bool = True) -> None:
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))
        self.queue = queue
        self.timeout = timeout
        self._warm = warm
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._pending = 0
        self._generation = 0

    # -- pool lifecycle ----------------------------------------------------------------------

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                from . import _engine

                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_engine.warm if self._warm else None,
                )
                self._generation += 1
            return self._pool

    def start(self) -> None:
        """Start the workers now (each imports btm once), so the first upload does not wait for it."""
        if not self._warm:
            return  # started by the first job instead
        pool = self._executor()
        for _ in range(self.workers):
            pool.submit(int)  # a trivial job per worker: forces the process (and its initializer) to start

    def _restart(self, generation: int) -> None:
        """Kill the workers of ``generation`` (if still current) and let the next job start fresh ones."""
        with self._lock:
            if self._pool is None or generation != self._generation:
                return
            pool, self._pool = self._pool, None
        for p in list(getattr(pool, "_processes", {}).values()):
            try:
                p.kill()
            except (OSError, AttributeError):
                pass
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            for p in list(getattr(pool, "_processes", {}).values()):
                try:
                    p.kill()
                except (OSError, AttributeError):
                    pass
            pool.shutdown(wait=True, cancel_futures=True)

    @property
    def pending(self) -> int:
        return self._pending

    # -- running jobs ------------------------------------------------------------------------

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run ``fn(*args)`` in a worker; return its result.

        Raises
        ------
        Busy
            When ``queue`` jobs are already waiting or running.
        TimeoutError
            When the job ran longer than ``timeout`` (the workers are restarted).
        RuntimeError
            When the worker process died (the workers are restarted).
        """
        if self._pending >= self.queue:
            raise Busy(f"{self._pending} jobs are waiting; try again in a minute")
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            for attempt in (1, 2):
                pool = self._executor()
                generation = self._generation
                try:
                    fut = loop.run_in_executor(pool, fn, *args)
                except (BrokenProcessPool, RuntimeError):  # shut down between our check and submit
                    self._restart(generation)
                    if attempt == 2:
                        raise RuntimeError("the worker processes could not be started") from None
                    continue
                try:
                    return await asyncio.wait_for(fut, timeout or self.timeout)
                except TimeoutError:
                    self._restart(generation)
                    raise TimeoutError(f"the job took longer than {timeout or self.timeout:.0f} s and was stopped") from None
                except BrokenProcessPool:
                    self._restart(generation)
                    raise RuntimeError("the worker process stopped (out of memory, or a crash while reading the file)") from None
            raise RuntimeError("unreachable")  # pragma: no cover
        finally:
            self._pending -= 1
