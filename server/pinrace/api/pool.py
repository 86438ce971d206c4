"""Worker processes for every job the server runs on scenario text, each job on its own.

Why not concurrent.futures.ProcessPoolExecutor: when one of its workers dies (the kernel's
OOM killer, a crash, our own hard stop) the whole executor is "broken" and every job in it
fails.  Here each worker process has a slot thread in the server that owns it: the thread
sends one job at a time over a pipe, forwards the job's progress, and watches the process.
A process that dies fails the job it was running and nothing else; the slot starts a fresh
process for its next job.  A job asked to stop that does not (code that polls no cancel flag)
loses its process after `cancel_grace` seconds.

The slot thread also enforces the two budgets no job can escape, whatever code it sits in:
a wall-clock limit per job (`seconds`) and a resident-size limit per process
(`memory_mb`).  Past either, the process is killed (SIGKILL) and the job fails with
Overrun("time" | "memory").  Jobs are expected to stop themselves well before that
(exploration budgets, pinrace.guard); this is the backstop.

Scheduling is fair between clients (their addresses): a free process takes the oldest job
of the client with the fewest jobs running.  `size` processes serve everyone; `spares` more
start only jobs of a light client: one with nothing running that has used little worker time
lately (LIGHT_SECONDS, decaying with a half-life of USAGE_HALF_LIFE), and run each for at
most SPARE_SLICE seconds: a job still running then is stopped (cancelled, or killed if it
ignores that) and queued again, first in its client's line, for a regular worker.  So a
client whose small checks take milliseconds is never queued behind long jobs, not even those
of fresh addresses, which are light until they have used a few seconds.

Nothing here imports the web stack: the worker processes (spawned, not forked) import only
this module and the job functions they are sent (by reference: functions of pinrace.api.work).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any

__all__ = ["Pool", "Task", "JobContext", "WorkerDied", "Overrun"]

log = logging.getLogger("pinrace.api")

WATCH_EVERY = 0.1  # seconds between a slot's looks at its job's clock and its process's size
LIGHT_SECONDS = 3.0  # worker seconds a client may have used lately and still be served by a spare
SPARE_SLICE = 1.0  # seconds a job may run on a spare before it is stopped and queued for a regular worker
USAGE_HALF_LIFE = 30.0  # seconds in which a client's worker usage counts half
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class WorkerDied(Exception):
    """The process ended without answering (killed from outside, crashed)."""


class Overrun(Exception):
    """The pool stopped the job's process: it passed its time ("time") or memory ("memory") limit."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class Task:
    """One job: `future` gets fn's return value, or WorkerDied / Overrun / RuntimeError."""

    fn: Callable
    args: tuple
    client: str | None
    seconds: float | None
    progress: Callable[[dict], None] | None
    id: int
    future: Future = field(default_factory=Future)
    slot: _Slot | None = None
    seq: int = 0
    server_cpu: float = 0.0  # CPU seconds the server spent receiving the answer (unpickling it)
    cancel_at: float | None = None  # when a running task was asked to stop
    started: float | None = None  # when a worker took it
    on_spare: bool = False  # started on the spare: it may run SPARE_SLICE seconds there
    preempted: bool = False  # stopped on the spare: it is queued again, its attempt's outcome dropped
    no_spare: bool = False  # preempted once: the regular workers only
    user_cancelled: bool = False
    retried: bool = False  # sent once to a process that was dying already: sent again, once
    progressed: bool = False  # its worker has reported progress


class JobContext:
    """What a job function gets as its last argument, in the worker: progress out, cancel in."""

    def __init__(self, send: Callable[[tuple], None], job_id: int, cancel: threading.Event):
        self._send = send
        self._id = job_id
        self._cancel = cancel
        self.recycle = False  # set by a job whose process should not run another (interrupted mid-way)

    def progress(self, item: dict) -> None:
        try:
            self._send(("progress", self._id, item))
        except Exception:  # the server is gone: the job ends by its budget
            pass

    def cancelled(self) -> bool:
        return self._cancel.is_set()


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / (1 << 20)
    except (OSError, IndexError, ValueError):
        return 0.0


def _worker_main(conn: Connection, initializer: Callable[[], None] | None) -> None:
    """A worker process: run jobs one at a time; a reader thread takes jobs and cancels off the pipe."""
    if initializer is not None:
        initializer()
    jobs: queue.SimpleQueue = queue.SimpleQueue()
    cancel = threading.Event()
    current = [None]
    send_lock = threading.Lock()

    def send(msg: tuple) -> None:
        with send_lock:
            conn.send(msg)

    def reader() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the server is gone: so is the point of this process
            if msg[0] == "job":
                # set here, not when the job starts: a cancel right behind it must not be lost
                cancel.clear()
                current[0] = msg[1]
                jobs.put(msg)
            elif msg[0] == "cancel" and msg[1] == current[0]:
                cancel.set()
            elif msg[0] == "stop":
                jobs.put(None)

    threading.Thread(target=reader, daemon=True, name="pinrace-worker-reader").start()
    while True:
        msg = jobs.get()
        if msg is None:
            return
        _, job_id, fn, args = msg
        ctx = JobContext(send, job_id, cancel)
        try:
            out = ("result", job_id, fn(*args, ctx), ctx.recycle)
        except BaseException as e:  # job functions catch their own errors; this is a bug
            out = ("error", job_id, f"{type(e).__name__}: {e}", True)
        try:
            send(out)
        except Exception as e:  # an answer that does not pickle: a bug, said as such
            send(("error", job_id, f"unpicklable answer: {type(e).__name__}: {e}", False))
        if out[3]:
            return


class _Slot(threading.Thread):
    """Owns one worker process: starts it, feeds it jobs, watches it, replaces it."""

    def __init__(self, pool: Pool, index: int):
        super().__init__(daemon=True, name=f"pinrace-slot-{index}")
        self.pool = pool
        self.proc = None
        self.conn: Connection | None = None
        self.send_lock = threading.Lock()
        self.done = 0  # jobs the current process has run

    # ---- the process --------------------------------------------------------------------
    def ensure_process(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            return
        self.stop_process(kill=True)
        parent, child = multiprocessing.Pipe(duplex=True)
        proc = self.pool.ctx.Process(target=_worker_main, args=(child, self.pool.initializer), daemon=True,
                                     name="pinrace-worker")
        proc.start()
        child.close()
        self.proc, self.conn, self.done = proc, parent, 0

    def stop_process(self, kill: bool) -> None:
        with self.send_lock:  # pool.cancel() may be sending to this process from the event loop
            proc, conn, self.proc, self.conn = self.proc, self.conn, None, None
        if proc is None:
            return
        try:
            if kill:
                proc.kill()
            else:
                conn.send(("stop",))
        except (OSError, ValueError):
            pass
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
        try:
            conn.close()
        except OSError:
            pass

    def send(self, msg: tuple) -> None:
        with self.send_lock:
            if self.conn is not None:
                self.conn.send(msg)

    # ---- jobs -------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            if self.proc is None and not self.pool._closed:
                # a process stopped (recycled, killed, over a limit) is replaced now, while the slot is
                # free, not when the next job arrives and would wait for it to start
                try:
                    self.ensure_process()
                except Exception:
                    log.exception("could not start a worker process")
            task = self.pool._take(self)
            if task is None:
                self.stop_process(kill=False)
                return
            try:
                self._run(task)
            except Exception as e:  # the slot must outlive any one job
                log.exception("worker slot failed")
                if not task.future.done():
                    task.future.set_exception(RuntimeError(f"worker slot failed: {e}"))
                self.stop_process(kill=True)
            finally:
                self.pool._finished(task)

    def _run(self, task: Task) -> None:
        """One attempt at `task`: its future gets the outcome, unless the attempt was preempted on the
        spare (then the pool queues it again and this outcome is dropped)."""

        def settle(outcome) -> None:
            if task.preempted and not task.user_cancelled:
                return
            if isinstance(outcome, BaseException):
                task.future.set_exception(outcome)
            else:
                task.future.set_result(outcome[0])

        try:
            self.ensure_process()
            self.send(("job", task.id, task.fn, task.args))
        except Exception as e:  # could not start a process, or the job's arguments do not pickle
            task.preempted = False
            settle(RuntimeError(f"could not start the job: {type(e).__name__}: {e}"))
            self.stop_process(kill=True)
            return
        started = time.monotonic()
        limit_mb = self.pool.memory_mb
        while True:
            ready = wait_any([self.conn, self.proc.sentinel], timeout=WATCH_EVERY)
            if self.conn in ready:
                c0 = time.thread_time()
                try:
                    msg = self.conn.recv()
                except (EOFError, OSError):
                    msg = None
                task.server_cpu += time.thread_time() - c0
                if msg is None:
                    self._died(task, started, settle)
                    return
                kind = msg[0]
                if kind == "progress":
                    task.progressed = True
                    if msg[1] == task.id and task.progress is not None and not task.preempted:
                        task.progress(msg[2])
                elif kind == "result":
                    settle((msg[2],))
                else:
                    log.error("job %s failed in its worker: %s", getattr(task.fn, "__name__", task.fn), msg[2])
                    settle(RuntimeError(msg[2]))
                if kind != "progress":
                    self._after(msg[3])
                    return
            elif self.proc.sentinel in ready:
                self._died(task, started, settle)
                return
            # a job that keeps reporting progress is watched as closely as a silent one
            reason = None
            now = time.monotonic()
            if task.on_spare and not task.preempted and now - started > SPARE_SLICE:
                # the spare is for small jobs: this one goes back to the queue for a regular worker
                task.preempted = True
                task.cancel_at = now
                try:
                    self.send(("cancel", task.id))
                except (OSError, ValueError):
                    pass
            if task.seconds is not None and now - started > task.seconds:
                reason = "time"
            elif task.cancel_at is not None and now - task.cancel_at > self.pool.cancel_grace:
                reason = "cancelled"  # asked to stop and did not: the process goes, with the job
            elif limit_mb and _rss_mb(self.proc.pid) > limit_mb:
                reason = "memory"
            if reason:
                self.stop_process(kill=True)
                settle(Overrun(reason))
                return

    def _died(self, task: Task, started: float, settle) -> None:
        """The process ended under `task`.  Within a moment of taking the job, silent, it was most
        likely dying already (killed while idle: the OOM killer, an operator): the job goes back to
        the queue once.  Otherwise it failed with its process, and only it."""
        self.proc.join(1)
        code = self.proc.exitcode
        self.stop_process(kill=True)
        if not task.retried and not task.progressed and time.monotonic() - started < 0.5:
            # (the pool queues it again, where it may take the spare as before; this outcome is dropped)
            task.retried = task.preempted = True
            task.on_spare = False
            return
        settle(WorkerDied(f"the worker process died (exit code {code})"))

    def _after(self, recycle: bool) -> None:
        """A job answered: keep the process for the next, or replace it."""
        limit_mb = self.pool.memory_mb
        self.done += 1
        rss = _rss_mb(self.proc.pid)
        if recycle or self.done >= self.pool.max_tasks or (limit_mb and rss > limit_mb / 2):
            # its own request, its share of jobs, or memory a finished job left behind (the
            # allocator keeps it): a fresh process rather than one that starts near its limit
            self.stop_process(kill=recycle)


class Pool:
    """`size` + `spares` worker processes (spawned, niced) running jobs fairly between clients."""

    def __init__(self, size: int, spares: int = 0, memory_mb: float | None = None, max_tasks: int = 200,
                 initializer: Callable[[], None] | None = None, cancel_grace: float = 5.0):
        self.size, self.spares = size, spares
        self.cancel_grace = cancel_grace  # seconds a cancelled job may take to stop before it is killed
        self.memory_mb = memory_mb
        self.max_tasks = max_tasks
        self.initializer = initializer
        self.ctx = multiprocessing.get_context("spawn")
        self._cond = threading.Condition()
        self._queues: dict[str | None, deque[Task]] = {}
        self._running: dict[str | None, int] = {}
        self._n_running = 0
        self._usage: dict[str | None, tuple[float, float]] = {}  # client -> (worker seconds, as of when)
        self._ids = itertools.count(1)
        self._closed = False
        self._slots = [_Slot(self, i) for i in range(size + spares)]
        for s in self._slots:
            s.start()

    # ---- counts -------------------------------------------------------------------------
    @property
    def running(self) -> int:
        return self._n_running

    @property
    def queued(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def pids(self) -> list[int]:
        """The worker processes alive now (tests kill them)."""
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.is_alive()]

    def pid_of(self, task: Task) -> int | None:
        """The process running `task`, or None (queued, or done)."""
        slot = task.slot
        proc = slot.proc if slot is not None else None
        return proc.pid if proc is not None else None

    # ---- submitting and cancelling ------------------------------------------------------
    def submit(self, fn: Callable, *args, client: str | None = None, seconds: float | None = None,
               progress: Callable[[dict], None] | None = None) -> Task:
        """Queue `fn(*args, JobContext)` for a worker; `seconds` is the hard wall-clock limit once it runs."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            task = Task(fn, args, client, seconds, progress, next(self._ids))
            task.seq = task.id
            self._queues.setdefault(client, deque()).append(task)
            self._cond.notify_all()
        return task

    def cancel(self, task: Task) -> None:
        """Drop a queued task (its future is cancelled); ask a running one to stop (it answers early)."""
        with self._cond:
            task.user_cancelled = True
            q = self._queues.get(task.client)
            if q is not None and task in q:
                q.remove(task)
                if not q:
                    del self._queues[task.client]
                if not task.future.cancel():  # a preempted task queued again: its future runs already
                    task.future.set_exception(Overrun("cancelled"))
                return
            slot = task.slot
        if slot is not None and not task.future.done():
            task.cancel_at = time.monotonic()  # the slot stops the process if the job does not
            try:
                slot.send(("cancel", task.id))
            except (OSError, ValueError):
                pass

    # ---- scheduling (slot threads) ----------------------------------------------------------
    def _pick(self) -> Task | None:
        if self._n_running >= self.size + self.spares:
            return None
        spare_only = self._n_running >= self.size
        best = None
        for client, q in self._queues.items():
            mine = self._running.get(client, 0)
            if spare_only and (mine or q[0].no_spare or self.usage(client) > LIGHT_SECONDS):
                continue
            key = (mine, q[0].seq)
            if best is None or key < best[0]:
                best = (key, client)
        if best is None:
            return None
        q = self._queues[best[1]]
        task = q.popleft()
        if not q:
            del self._queues[best[1]]
        return task

    def _take(self, slot: _Slot) -> Task | None:
        with self._cond:
            while True:
                if self._closed:
                    return None
                on_spare = self._n_running >= self.size
                task = self._pick()
                if task is not None:
                    task.slot = slot
                    task.started = time.monotonic()
                    task.on_spare = on_spare
                    self._n_running += 1
                    self._running[task.client] = self._running.get(task.client, 0) + 1
                    if task.future.running() or task.future.set_running_or_notify_cancel():
                        return task  # (running already: a preempted task's second attempt)
                    self._release(task)
                    continue
                self._cond.wait()

    def _release(self, task: Task) -> None:
        self._n_running -= 1
        n = self._running.get(task.client, 0) - 1
        if n > 0:
            self._running[task.client] = n
        else:
            self._running.pop(task.client, None)

    def usage(self, client: str | None) -> float:
        """Worker seconds `client`'s jobs used lately (each halving every USAGE_HALF_LIFE seconds)."""
        used, when = self._usage.get(client, (0.0, 0.0))
        return used * 0.5 ** ((time.monotonic() - when) / USAGE_HALF_LIFE) if used else 0.0

    def _finished(self, task: Task) -> None:
        with self._cond:
            if task.started is not None:
                now = time.monotonic()
                self._usage[task.client] = (self.usage(task.client) + now - task.started, now)
                if len(self._usage) > 10_000:  # forget the lightest: they would be served anyway
                    for c in sorted(self._usage, key=self.usage)[:5_000]:
                        del self._usage[c]
            self._release(task)
            task.slot = None
            if task.preempted and not task.user_cancelled and not task.future.done() and not self._closed:
                # stopped on the spare (or its process was dying): first in its client's queue again,
                # for a regular worker
                task.no_spare = task.no_spare or task.on_spare
                task.preempted, task.on_spare, task.progressed = False, False, False
                task.cancel_at = task.started = None
                self._queues.setdefault(task.client, deque()).appendleft(task)
            self._cond.notify_all()

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start every worker process now rather than for the first job (each takes a moment)."""
        threads = [threading.Thread(target=s.ensure_process, daemon=True) for s in self._slots if s.proc is None]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def shutdown(self, wait: float = 5.0) -> None:
        """Stop taking jobs; idle processes exit, running jobs get `wait` seconds (the caller has
        cancelled them: they stop within ~50 ms), then their processes are killed."""
        with self._cond:
            self._closed = True
            pending = [t for q in self._queues.values() for t in q]
            self._queues.clear()
            self._cond.notify_all()
        for t in pending:
            t.future.cancel()
        deadline = time.monotonic() + wait
        for s in self._slots:
            s.join(timeout=max(0.0, deadline - time.monotonic()))
        for s in self._slots:
            if s.is_alive():  # a job that does not stop: end its process; the slot then sees it gone
                p = s.proc
                if p is not None:
                    try:
                        p.kill()
                    except (OSError, AttributeError):
                        pass
                s.join(timeout=5)
