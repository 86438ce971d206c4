"""Explorations off the event loop: a spawn-context process pool, progress and cancellation.

How it works:

* Every check, litmus run and diff is a job on a ProcessPoolExecutor whose workers are
  started with the `spawn` context (no forked copy of the server's threads or sockets).
  The server's event loop only awaits futures, so steps and other sessions stay
  responsive however long an exploration takes, and the GIL of the server process is
  never held by the search.
* A job that reports progress gets a multiprocessing Manager queue and a Manager Event.
  The worker puts a progress item at start and every 0.25 s (work.py) and DONE last;
  a small reader thread per job moves items from the Manager queue into an asyncio
  queue on the server's loop.
* Cancelling (the client said so, or left) sets the Event; the worker looks at it
  between batches of states and ends with `incomplete: cancelled`.  A job still queued
  is simply dropped.  Every job is also bounded by its budget (max_seconds is capped
  server-side), so a worker that does not see the flag still stops in bounded time.
* A worker that dies (killed, out of memory) breaks the pool; the runner replaces the
  pool and the job's caller gets a structured error, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue as queue_mod
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..errors import PinraceError
from ..limits import LIMITS
from . import work

__all__ = ["JobRunner", "Job", "Busy", "TooMany"]

log = logging.getLogger("pinrace.api")


class Busy(PinraceError):
    """Too many explorations queued: try again shortly."""

    code = "busy"


class TooMany(Busy):
    """One client already has its share of explorations running: 429, not the server's 503."""

    code = "too-many-explorations"


class Job:
    """One submitted job: await `events()` for progress, then `result()`; `cancel()` any time."""

    def __init__(self, runner: JobRunner, future: Future, q=None, cancel_event=None, client: str | None = None):
        self._runner = runner
        self.client = client
        self.future = future
        self._q = q
        self._cancel_event = cancel_event
        self._aq: asyncio.Queue | None = None
        self.cancelled = False
        if q is not None:
            loop = asyncio.get_running_loop()
            self._aq = asyncio.Queue()
            threading.Thread(target=self._pump, args=(loop,), daemon=True, name="pinrace-progress").start()

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reader thread: Manager queue -> asyncio queue, until DONE or the worker is gone."""
        while True:
            try:
                item = self._q.get(timeout=0.2)
            except queue_mod.Empty:
                if self.future.done():
                    item = work.DONE
                else:
                    continue
            except Exception:  # the manager went away
                item = work.DONE
            try:
                loop.call_soon_threadsafe(self._aq.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody listens any more
                return
            if item == work.DONE:
                return

    async def events(self) -> AsyncIterator[dict]:
        """Progress items in the order the worker sent them; ends when the job ends."""
        if self._aq is None:
            return
        while True:
            item = await self._aq.get()
            if item == work.DONE:
                return
            yield item

    async def result(self) -> dict:
        """The job's answer: {"result": ...}, {"json", "text"} or {"error": ..., "status": N}."""
        try:
            return await asyncio.wrap_future(self.future)
        except asyncio.CancelledError:
            self.cancel()
            raise
        except BrokenProcessPool:
            self._runner._replace_pool()
            return {"error": {"code": "worker-died", "message": "the exploration's worker process died "
                              "(out of memory?); try a smaller budget"}, "status": 503}
        except Exception:
            log.exception("exploration job failed")
            return {"error": {"code": "internal-error", "message": "internal error in the checker (logged)"},
                    "status": 500}

    def cancel(self) -> None:
        """Ask the worker to stop (it ends with incomplete: cancelled); drop it if still queued."""
        if self.cancelled:
            return
        self.cancelled = True
        self.future.cancel()
        if self._cancel_event is not None:
            try:
                self._cancel_event.set()
            except Exception:
                pass


class JobRunner:
    """The process pool and Manager behind every exploration the server runs."""

    def __init__(self, workers: int | None = None, max_pending: int | None = None, per_client: int | None = None):
        self.workers = workers or int(os.environ.get("PINRACE_WORKERS", 0)) or max(2, os.cpu_count() or 2)
        # overall (PINRACE_MAX_EXPLORATIONS) and per client address (PINRACE_MAX_EXPLORATIONS_PER_CLIENT):
        # one visitor cannot fill the queue that every other visitor waits in
        self.max_pending = max_pending or LIMITS.explorations or self.workers * 8
        self.per_client = per_client or LIMITS.explorations_per_client
        self._ctx = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._compile_pool: ProcessPoolExecutor | None = None  # large scenarios compile here, one at a time
        self._manager = None
        self._lock = threading.Lock()
        self._active: set[Job] = set()

    # ---- lifecycle ----------------------------------------------------------------
    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx,
                                                 max_tasks_per_child=200, initializer=work.lower_priority)
            return self._pool

    def _get_compile_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._compile_pool is None:
                self._compile_pool = ProcessPoolExecutor(max_workers=1, mp_context=self._ctx, max_tasks_per_child=50,
                                                         initializer=work.lower_priority)
            return self._compile_pool

    async def compile(self, text: str, loop_bound: int | None = None) -> dict:
        """Compile `text` in the compile process (not in the server's, where pure-Python parsing of a
        large scenario would hold the GIL against the event loop): work.compile_only's answer."""
        try:
            return await asyncio.wrap_future(self._get_compile_pool().submit(work.compile_only, text, loop_bound))
        except BrokenProcessPool:
            with self._lock:
                old, self._compile_pool = self._compile_pool, None
            if old is not None:
                old.shutdown(wait=False, cancel_futures=True)
            return {"error": {"code": "worker-died", "message": "the compile process died (out of memory?)"},
                    "status": 503}

    def _get_manager(self):
        with self._lock:
            if self._manager is None:
                self._manager = self._ctx.Manager()
            return self._manager

    def _replace_pool(self) -> None:
        with self._lock:
            old, self._pool = self._pool, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> None:
        """Start the workers and the Manager now instead of on the first request."""
        pool = self._get_pool()
        for _ in range(self.workers):
            pool.submit(work.warm)
        self._get_manager()

    def shutdown(self) -> None:
        for job in list(self._active):
            job.cancel()
        with self._lock:
            pool, self._pool = self._pool, None
            mgr, self._manager = self._manager, None
            cpool, self._compile_pool = self._compile_pool, None
        if cpool is not None:
            cpool.shutdown(wait=False, cancel_futures=True)
        if pool is not None:
            # cancelled jobs stop within ~50 ms; give stragglers a few seconds, then end them
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + 5
            for p in procs:
                p.join(timeout=max(0.0, deadline - time.monotonic()))
                if p.is_alive():
                    p.terminate()
            pool.shutdown(wait=True)
        if mgr is not None:
            try:
                mgr.shutdown()
            except Exception:
                pass

    # ---- jobs ---------------------------------------------------------------------
    @property
    def active(self) -> int:
        return len(self._active)

    def running_for(self, client: str | None) -> int:
        return sum(1 for j in self._active if j.client == client) if client is not None else 0

    def admit(self, client: str | None, n: int = 1) -> None:
        """Raise TooMany / Busy unless `n` more jobs for `client` fit (check before submitting a batch)."""
        if client is not None and self.running_for(client) + n > self.per_client:
            raise TooMany(f"you have {self.running_for(client)} explorations running and this needs {n} more; "
                          f"the limit per client is {self.per_client} (PINRACE_MAX_EXPLORATIONS_PER_CLIENT): "
                          f"wait for one to finish or cancel it")
        if len(self._active) + n > self.max_pending:
            raise Busy(f"the server is running {len(self._active)} explorations (limit {self.max_pending}, "
                       f"PINRACE_MAX_EXPLORATIONS); try again shortly")

    def submit(self, fn, *args, progress: bool = False, client: str | None = None) -> Job:
        """Start `fn(*args[, channel])` in a worker; with `progress`, the job streams events.

        `client` (the peer's address) counts the job against that client's share.
        Must be called from the event loop's thread.
        """
        self.admit(client)
        q = ev = None
        if progress:
            mgr = self._get_manager()
            q, ev = mgr.Queue(), mgr.Event()
            args = (*args, (q, ev))
        try:
            fut = self._get_pool().submit(fn, *args)
        except BrokenProcessPool:
            self._replace_pool()
            fut = self._get_pool().submit(fn, *args)
        job = Job(self, fut, q, ev, client)
        self._active.add(job)
        fut.add_done_callback(lambda _f: self._active.discard(job))
        return job
