"""One candidate's event structure: paths joined, init writes added, static relations of the .bell."""

from __future__ import annotations

from .paths import Ev
from .relations import bits, diff, ident, inter, is_empty, restrict, seq, star, union

__all__ = ["Structure"]


class Structure:
    """The events of one choice of thread paths and every relation not depending on rf/co."""

    def __init__(self, combo, locations):
        evs: list[Ev] = []
        self.iw = {}
        self.iw_set: set[int] = set()
        for loc, v in locations.items():
            self.iw_set.add(len(evs))
            self.iw[loc] = len(evs)
            evs.append(Ev("W", loc, v, frozenset(("IW",)), None, -1))
        offsets = []
        for p in combo:
            offsets.append(len(evs))
            evs.extend(p.events)
        n = self.n = len(evs)
        self.events = evs
        self.combo = combo
        self.offsets = offsets

        # one pass over the events for every tag mask: this runs once per candidate path combination
        tagmask: dict[str, int] = {}
        kinds: dict[str, int] = {}
        for i, e in enumerate(evs):
            b = 1 << i
            kinds[e.kind] = kinds.get(e.kind, 0) | b
            for t in e.tags:
                tagmask[t] = tagmask.get(t, 0) | b
        self._tagmask = tagmask

        def tag(t) -> int:
            return tagmask.get(t, 0)

        full = (1 << n) - 1
        self.full = full
        self.R = kinds.get("R", 0)
        self.W = kinds.get("W", 0)
        self.M = self.R | self.W
        self.IW = tag("IW")
        self.RMWset = tag("RMW")
        self.LKR, self.LKW, self.UL = tag("LKR"), tag("LKW"), tag("UL")
        self.LF = tag("LF") | tag("RL")
        self.RU = tag("RU")
        self.SrcuLock, self.SrcuUnlock, self.SyncSrcu = tag("srcu-lock"), tag("srcu-unlock"), tag("sync-srcu")
        self.SyncRcu = tag("sync-rcu")
        self.lockish = self.LKR | self.LKW | self.UL | self.LF | self.RU

        # po, int, loc
        po = [0] * n
        same = [0] * n
        for t, p in enumerate(combo):
            base = offsets[t]
            k = len(p.events)
            allm = ((1 << k) - 1) << base
            for i in range(k):
                po[base + i] = ((1 << k) - 1 - ((1 << (i + 1)) - 1)) << base
                same[base + i] = allm
        for i in range(len(locations)):
            same[i] = 1 << i
        self.po = po
        self.int_ = same
        self.ext = [full & ~x for x in same]
        byloc: dict = {}
        for i, e in enumerate(evs):
            if e.loc is not None:
                byloc[e.loc] = byloc.get(e.loc, 0) | (1 << i)
        self.byloc = byloc
        self.loc = [byloc[e.loc] if e.loc is not None else 0 for e in evs]
        self.po_loc = inter(po, self.loc)

        # rmw, dependencies (the .bell's, before carry-dep)
        rmw = [0] * n
        addr, data, ctrl = [0] * n, [0] * n, [0] * n
        for t, p in enumerate(combo):
            base = offsets[t]
            for a, b in p.rmw:
                rmw[base + a] |= 1 << (base + b)
            for i in range(len(p.events)):
                for src, rel in ((p.addr[i], addr), (p.data[i], data), (p.ctrl[i], ctrl)):
                    for j in bits(src):
                        rel[base + j] |= 1 << (base + i)
        self.rmw = rmw
        self.addr0, self.data0, self.ctrl0 = addr, data, ctrl
        # per write, the read whose value it copies unchanged (-1: none); see check._self_justified
        self.copy0 = [-1] * n
        for t, p in enumerate(combo):
            base = offsets[t]
            for i, e in enumerate(p.events):
                if e.copy >= 0:
                    self.copy0[base + i] = base + e.copy
        self.rejected = self._lock_checks()
        self._complete = False

    def __getattr__(self, name: str):
        # the relations below are needed only by the axioms, i.e. only for path combinations
        # whose reads-from and coherence choices are not all empty: build them on first use
        if name.startswith("__") or self.__dict__.get("_complete", True):
            raise AttributeError(name)
        self._complete = True
        self._statics()
        return getattr(self, name)

    def _statics(self) -> None:
        """The .bell's relations that depend neither on rf nor on co."""
        n, full, po, rmw, tagmask = self.n, self.full, self.po, self.rmw, self._tagmask

        def tag(t: str) -> int:
            return tagmask.get(t, 0)

        rmw_ends = 0
        for i, x in enumerate(rmw):
            if x:
                rmw_ends |= (1 << i) | x
        failed = self.RMWset & ~rmw_ends
        self.Acquire = (tag("ACQUIRE") & ~self.W & ~failed) | self.LKR
        self.Release = (tag("RELEASE") & ~self.R & ~failed) | self.UL
        self.Mb = tag("MB") & ~failed
        self.Noreturn = tag("NORETURN") & ~self.W
        self.R4rmb = self.R & ~self.Noreturn
        self.Marked = (full & ~self.M) | self.IW | tag("ONCE") | tag("RELEASE") | tag("ACQUIRE") | tag("MB") \
            | self.RMWset | self.lockish | self.SrcuLock | self.SrcuUnlock
        self.Plain = self.M & ~self.Marked
        M = self.M

        def fencerel(s: int):
            return seq(restrict(po, full, s), po)

        self.fencerel = fencerel
        self.rmb = restrict(fencerel(tag("rmb")), self.R4rmb, self.R4rmb)
        self.wmb = restrict(fencerel(tag("wmb")), self.W, self.W)
        po_opt = [x | (1 << i) for i, x in enumerate(po)]
        self.po_opt = po_opt
        mb = union(
            restrict(fencerel(self.Mb), M, M),
            restrict(po, M, self.Mb & self.R),
            restrict(po, self.Mb & self.W, M),
            seq(restrict(fencerel(tag("before-atomic")), M, self.RMWset), restrict(po_opt, full, M)),
            seq(restrict(po_opt, M, self.RMWset), restrict(fencerel(tag("after-atomic")), full, M)),
            seq(restrict(po_opt, M, self.LKW), restrict(fencerel(tag("after-spinlock")), full, M)),
            seq(restrict(po_opt, M, self.SrcuUnlock), restrict(fencerel(tag("after-srcu-read-unlock")), full, M)),
        )
        self.mb_static = mb
        self.aul_po = restrict(seq(ident(n, tag("after-unlock-lock")), po), full, M)
        self.gp = seq(restrict(po, full, self.SyncRcu | self.SyncSrcu), po_opt)
        self.acq_po = restrict(po, self.Acquire, M)
        self.po_rel = restrict(po, M, self.Release)
        self.has_rcu = bool(self.SyncRcu | self.SyncSrcu)
        self.has_plain = bool(self.Plain)
        self.rcu_rscs, unmatched_locks, unmatched_unlocks = self._rcu_rscs(tag("rcu-lock"), tag("rcu-unlock"))
        # the .bell's flags that depend on program order alone
        self.static_flags = set()
        if unmatched_locks:
            self.static_flags.add("unmatched-rcu-lock")
        if unmatched_unlocks:
            self.static_flags.add("unmatched-rcu-unlock")
        if self.SyncSrcu and any(x & seq(restrict(po, full, self.SyncSrcu), po)[i]
                                 for i, x in enumerate(self.rcu_rscs)):
            self.static_flags.add("invalid-sleep")  # synchronize_srcu() inside rcu_read_lock()
        if self.has_plain:
            bar = tag("barrier") | tag("rmb") | tag("wmb") | self.Mb | self.SyncRcu | self.SyncSrcu \
                | tag("before-atomic") | tag("after-atomic") | self.Acquire | self.Release | tag("rcu-lock") \
                | tag("rcu-unlock") | self.SrcuLock | self.SrcuUnlock
            barrier = union(fencerel(bar), restrict(po, full, self.Release), restrict(po, self.Acquire, full))
            pl = diff(self.po_loc, barrier)
            pw = self.Plain & self.W
            self.mixed = not is_empty(union(restrict(pl, pw, self.Marked), restrict(pl, self.Marked, pw)))
        else:
            self.mixed = False

    def _rcu_rscs(self, locks: int, unlocks: int) -> tuple[list[int], int, int]:
        """The .bell's rcu-rscs: each rcu_read_lock() with its rcu_read_unlock(), innermost first
        (a stack per thread); and the locks and unlocks left unmatched, as bitmasks."""
        rel = [0] * self.n
        left_locks = left_unlocks = 0
        for t in range(len(self.combo)):
            stack = []
            base = self.offsets[t]
            for i in range(base, base + len(self.combo[t].events)):
                if (locks >> i) & 1:
                    stack.append(i)
                elif (unlocks >> i) & 1:
                    if stack:
                        rel[stack.pop()] |= 1 << i
                    else:
                        left_unlocks |= 1 << i
            for i in stack:
                left_locks |= 1 << i
        return rel, left_locks, left_unlocks

    def _lock_checks(self) -> str | None:
        """lock.cat's static checks: lock-nest and nested-is-locked; None when they pass."""
        if not (self.LKW | self.RU):
            return None
        pl = self.po_loc
        through_ul = seq(restrict(pl, self.full, self.UL), pl)
        if not is_empty(diff(restrict(pl, self.LKW, self.LKR), through_ul)):
            return "lock-nest"
        if not is_empty(diff(restrict(pl, self.LKW, self.RU), through_ul)):
            return "nested-is-locked"
        return None

    def critical(self) -> list[int]:
        """LKW -> its matching UL: ([LKW] ; po-loc ; [UL]) \\ (po-loc ; [LKW | UL] ; po-loc)."""
        pl = self.po_loc
        between = seq(restrict(pl, self.full, self.LKW | self.UL), pl)
        return diff(restrict(pl, self.LKW, self.UL), between)

    def srcu_rscs(self, rf: list[int]) -> list[int]:
        if not self.SrcuLock:
            return [0] * self.n
        carry = star(seq(restrict(self.data0, self.full, self.full & ~self.SrcuUnlock), rf))
        r = restrict(seq(carry, self.data0), self.SrcuLock, self.SrcuUnlock)
        return inter(r, self.loc)

    def srcu_flags(self, rf: list[int], wval: dict) -> set[str]:
        """The .bell's flags on srcu_read_lock()/srcu_read_unlock() pairs (they follow data and rf)."""
        if not (self.SrcuLock | self.SrcuUnlock):
            return set()
        rscs = self.srcu_rscs(rf)
        out = set()
        matched_locks = matched_unlocks = 0
        for i, x in enumerate(rscs):
            if x:
                matched_locks |= 1 << i
                matched_unlocks |= x
                if x & (x - 1):
                    out.add("multiple-srcu-matches")  # one lock, two unlocks
        if self.SrcuLock & ~matched_locks:
            out.add("unmatched-srcu-lock")
        if self.SrcuUnlock & ~matched_unlocks:
            out.add("unmatched-srcu-unlock")
        for i, x in enumerate(rscs):
            for j in bits(x):
                if self.events[i].ret != wval.get(j, self.events[j].value):
                    out.add("srcu-bad-value-match")
        return out
