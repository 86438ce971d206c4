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
