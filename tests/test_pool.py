"""The worker pool (api/pool.py): one job per death, hard limits, cancel, and fair scheduling."""

from __future__ import annotations

import time
from concurrent.futures import CancelledError

import pytest

import pool_jobs as J
from pinrace.api.pool import Overrun, Pool, WorkerDied


@pytest.fixture
def pool():
    p = Pool(2, spares=1, memory_mb=300, cancel_grace=1.0)
    yield p
    p.shutdown()


def test_a_job_that_dies_fails_alone(pool):
    a = pool.submit(J.sleep, 1.0, client="a")
    b = pool.submit(J.die, client="b")
    with pytest.raises(WorkerDied):
        b.future.result(timeout=60)
    assert a.future.result(timeout=60) == "slept"  # the other job finished
    assert pool.submit(J.add, 2, 3).future.result(timeout=60) == 5  # and the pool goes on


def test_hard_limits_stop_the_process_not_the_pool(pool):
    with pytest.raises(Overrun) as e:
        pool.submit(J.hog, client="a").future.result(timeout=60)
    assert e.value.reason == "memory"
    with pytest.raises(Overrun) as e:
        pool.submit(J.sleep, 30, client="a", seconds=1).future.result(timeout=60)
    assert e.value.reason == "time"
    assert pool.submit(J.add, 1, 1).future.result(timeout=60) == 2


def test_cancel(pool):
    progress = []
    t = pool.submit(J.sleep, 30, client="a", progress=progress.append)
    while not progress:
        time.sleep(0.01)
    pool.cancel(t)
    assert t.future.result(timeout=60) == "cancelled"  # it looked at the flag
    rude = pool.submit(J.rude_sleep, 30, client="a")
    time.sleep(0.5)
    pool.cancel(rude)
    with pytest.raises(Overrun) as e:  # it did not: its process went after cancel_grace
        rude.future.result(timeout=60)
    assert e.value.reason == "cancelled"
    queued = [pool.submit(J.sleep, 5, client="b") for _ in range(4)]
    pool.cancel(queued[-1])  # still queued: dropped at once
    with pytest.raises(CancelledError):
        queued[-1].future.result(timeout=1)
    for q in queued[:-1]:
        pool.cancel(q)


def test_a_light_client_is_served_by_the_spare_while_others_hold_every_worker(pool):
    # two clients that have used seconds of worker time lately ...
    for f in [pool.submit(J.sleep, 3.5, client=c).future for c in ("10.0.0.1", "10.0.0.2")]:
        assert f.result(timeout=60) == "slept"
    while pool.running:  # (the slots account for a job just after its answer)
        time.sleep(0.01)
    assert pool.usage("10.0.0.1") > 3.0
    # ... keep both workers busy and more queued; the spare is not theirs
    heavy = [pool.submit(J.sleep, 3, client=c) for c in ("10.0.0.1", "10.0.0.2") * 3]
    time.sleep(0.5)
    assert pool.running == 2
    light = pool.submit(J.add, 1, 2, client="192.0.2.1")  # a small check: on the spare at once
    assert light.future.result(timeout=60) == 3
    assert not heavy[0].future.done()  # answered before the running heavy jobs, not after all six
    for h in heavy:
        pool.cancel(h)


def test_a_long_job_on_the_spare_is_put_back_for_a_regular_worker(pool):
    """A fresh client is light, so its first job may start on the spare; past the spare's slice it is
    stopped there and queued again, and still answers (from a regular worker)."""
    hold = [pool.submit(J.sleep, 4, client=c) for c in ("10.0.0.1", "10.0.0.2")]  # both regular workers
    time.sleep(0.3)
    long = pool.submit(J.sleep, 2, client="10.0.0.3")  # starts on the spare ...
    time.sleep(0.3)
    assert long.on_spare and pool.running == 3
    light = pool.submit(J.add, 2, 2, client="192.0.2.2")  # ... which is free again for this one
    assert light.future.result(timeout=60) == 4
    assert not long.future.done()
    assert long.future.result(timeout=60) == "slept"  # finished after all, on a regular worker
    assert long.no_spare
    for h in hold:
        h.future.result(timeout=60)
