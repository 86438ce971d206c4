"""Jobs off the event loop: admission control, progress and cancellation over the worker pool.

How it works:

* Everything the server does with scenario text — compiling it, exploring it, preparing
  lkmm stepping, replaying, sharing, exporting — is a job in the worker pool (pool.py):
  spawned, niced processes, so the server's event loop only awaits futures and its GIL is
  never held by a parser or a search.  The server process never compiles untrusted text.
* Admission: a client (its address) may have PINRACE_MAX_EXPLORATIONS_PER_CLIENT jobs
  running or queued, the server PINRACE_MAX_EXPLORATIONS; past that a job is refused
  (429 / 503) before it is queued.  The pool then schedules fairly between clients.
* A job that reports progress streams it (pool -> slot thread -> this loop's queue).
* Cancelling (the client said so, or left) drops a queued job and asks a running one to
  stop: it looks at the flag between batches of states and ends with `incomplete:
  cancelled`.  Every job also has a hard wall-clock limit (its budget plus
  PINRACE_OVERRUN_SECONDS) and its process a memory limit: past them the pool stops the
  process and the job answers 422 `over-budget`.
* A worker that dies fails only the job it was running (503 `worker-died`); the pool
  replaces the process and every other job goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import CancelledError

from ..errors import PinraceError
from ..limits import LIMITS
from . import work
from .pool import Overrun, Pool, Task, WorkerDied

__all__ = ["JobRunner", "Job", "Busy", "TooMany", "MEMORY_HEADROOM"]

log = logging.getLogger("pinrace.api")

# The pool stops a process this far above PINRACE_MAX_MEMORY_MB: explorations stop themselves
# at the limit (incomplete: memory) and guarded code a little above it (pinrace.guard), so the
# hard stop only ever meets code that ignored both.
MEMORY_HEADROOM = 1.25
_DONE = object()


class Busy(PinraceError):
    """Too many jobs queued: try again shortly."""

    code = "busy"


class TooMany(Busy):
    """One client already has its share of jobs running: 429, not the server's 503."""

    code = "too-many-explorations"


class Job:
    """One submitted job: await `events()` for progress, then `result()`; `cancel()` any time."""

    def __init__(self, runner: JobRunner, task: Task, what: str, limit: float | None, stream: bool):
        self._runner = runner
        self.task = task
        self.client = task.client
        self.what = what  # "the exploration", "compiling": for the over-budget message
        self.limit = limit
        self.cancelled = False
        self._aq: asyncio.Queue | None = asyncio.Queue() if stream else None
        if stream:
            loop = asyncio.get_running_loop()
            # done callbacks run in the thread that finishes the future (a slot thread), after
            # that thread's last progress item: DONE arrives after every item
            task.future.add_done_callback(lambda _f: _post(loop, self._aq, _DONE))

    @property
    def future(self):
        return self.task.future

    async def events(self) -> AsyncIterator[dict]:
        """Progress items in the order the worker sent them; ends when the job ends."""
        if self._aq is None:
            return
        while True:
            item = await self._aq.get()
            if item is _DONE:
                return
            yield item

    async def result(self) -> dict:
        """The job's answer: {"result": ...} (or the job's own keys), or {"error": ..., "status": N}."""
        try:
            return await asyncio.wrap_future(self.task.future)
        except asyncio.CancelledError:
            if self.task.future.cancelled():  # dropped before it started (the caller cancelled)
                return {"error": {"code": "cancelled", "message": f"{self.what} was cancelled before it started"},
                        "status": 409}
            self.cancel()  # the awaiting coroutine was cancelled: so is the job
            raise
        except WorkerDied as e:
            return {"error": {"code": "worker-died", "message": f"the worker process running {self.what} died "
                              f"({e}); try again"}, "status": 503}
        except Overrun as e:
            if e.reason == "cancelled":
                return {"error": {"code": "cancelled", "message": f"{self.what} was cancelled (and did not stop by "
                                  "itself: its worker process was stopped)"}, "status": 409}
            if e.reason == "memory":
                why = f"its memory limit ({LIMITS.memory_mb:g} MiB, PINRACE_MAX_MEMORY_MB)"
            else:
                why = f"its time limit ({self.limit:g} s)" if self.limit else "its time limit"
            return {"error": {"code": "over-budget", "message": f"{self.what} did not stop within {why}: its worker "
                              "process was stopped"}, "status": 422}
        except CancelledError:
            return {"error": {"code": "cancelled", "message": f"{self.what} was cancelled"}, "status": 409}
        except Exception:
            log.exception("job failed")
            return {"error": {"code": "internal-error", "message": "internal error in the checker (logged)"},
                    "status": 500}

    def cancel(self) -> None:
        """Ask the worker to stop (an exploration then ends with incomplete: cancelled); drop it if still queued."""
        if self.cancelled:
            return
        self.cancelled = True
        pool = self._runner._pool
        if pool is not None:
            pool.cancel(self.task)


def _call(loop: asyncio.AbstractEventLoop, fn: Callable, *args) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # the loop is closed: nobody listens any more
        pass


def _post(loop: asyncio.AbstractEventLoop, q: asyncio.Queue, item) -> None:
    _call(loop, q.put_nowait, item)


class JobRunner:
    """The worker pool behind every job the server runs, with admission control per client."""

    def __init__(self, workers: int | None = None, max_pending: int | None = None, per_client: int | None = None,
                 spares: int | None = None, memory_mb: float | None = None):
        self.workers = workers or LIMITS.workers or max(2, os.cpu_count() or 2)
        self.spares = LIMITS.spare_workers if spares is None else spares
        # overall (PINRACE_MAX_EXPLORATIONS) and per client address (PINRACE_MAX_EXPLORATIONS_PER_CLIENT):
        # one visitor cannot fill the queue that every other visitor waits in
        # (compiles are jobs too: twenty users opening scenarios at once must not find the queue full)
        self.max_pending = max_pending or LIMITS.explorations or self.workers * 32
        self.per_client = per_client or LIMITS.explorations_per_client
        self.memory_mb = memory_mb or LIMITS.memory_mb
        self._pool: Pool | None = None
        self._active: set[Job] = set()

    # ---- lifecycle ----------------------------------------------------------------------
    @property
    def pool(self) -> Pool:
        """The worker pool, started on first use (again after a shutdown: an app's lifespan may run twice)."""
        if self._pool is None:
            self._pool = Pool(self.workers, self.spares, memory_mb=self.memory_mb * MEMORY_HEADROOM,
                              initializer=work.lower_priority, cancel_grace=LIMITS.overrun_seconds)
        return self._pool

    def warm(self) -> None:
        """Start the worker processes now instead of on the first request."""
        self.pool.start()

    def shutdown(self) -> None:
        for job in list(self._active):
            job.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()

    def pids(self) -> list[int]:
        return self._pool.pids() if self._pool is not None else []

    def pid_of(self, job: Job) -> int | None:
        return self._pool.pid_of(job.task) if self._pool is not None else None

    # ---- admission ----------------------------------------------------------------------
    @property
    def active(self) -> int:
        return len(self._active)

    def running_for(self, client: str | None) -> int:
        return sum(1 for j in self._active if j.client == client) if client is not None else 0

    def admit(self, client: str | None, n: int = 1) -> None:
        """Raise TooMany / Busy unless `n` more jobs for `client` fit (check before submitting a batch)."""
        if client is not None and self.running_for(client) + n > self.per_client:
            raise TooMany(f"you have {self.running_for(client)} jobs running and this needs {n} more; "
                          f"the limit per client is {self.per_client} (PINRACE_MAX_EXPLORATIONS_PER_CLIENT): "
                          f"wait for one to finish or cancel it")
        if len(self._active) + n > self.max_pending:
            raise Busy(f"the server is running {len(self._active)} jobs (limit {self.max_pending}, "
                       f"PINRACE_MAX_EXPLORATIONS); try again shortly")

    def submit(self, fn: Callable, *args, client: str | None, seconds: float | None, what: str,
               progress: bool = False) -> Job:
        """Start `fn(*args, JobContext)` in a worker, counted against `client` (None: the server's own).

        `seconds` is the hard limit once it runs (None: none); `what` names it in messages.
        Must be called from the event loop's thread.
        """
        self.admit(client)
        loop = asyncio.get_running_loop()
        holder: list[Job] = []

        def on_progress(item: dict) -> None:  # in a slot thread
            if holder and holder[0]._aq is not None:
                _post(loop, holder[0]._aq, item)

        task = self.pool.submit(fn, *args, client=client, seconds=seconds, progress=on_progress if progress else None)
        job = Job(self, task, what, seconds, progress)
        holder.append(job)
        self._active.add(job)
        # on the loop's thread: admit() iterates the set there
        task.future.add_done_callback(lambda _f: _call(loop, self._active.discard, job))
        return job

    async def run(self, fn: Callable, *args, client: str | None, seconds: float | None, what: str) -> dict:
        """submit() and await the answer; cancelled with the awaiting coroutine."""
        return await self.submit(fn, *args, client=client, seconds=seconds, what=what).result()
