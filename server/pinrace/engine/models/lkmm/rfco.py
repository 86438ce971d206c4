"""Per-location choices of rf and co that pass coherence and atomicity (lock.cat for locks)."""

from __future__ import annotations

from itertools import permutations, product

from ....errors import Unsupported
from ...expr import EvalError, apply_op
from .paths import LOCK_TAGS
from .relations import acyclic, bits

__all__ = ["location_choices", "ChoiceCache"]


def _ok(st, evs: list[int], rf: dict, order: list[int]) -> bool:
    """coherence (acyclic po-loc | rf | co | fr) and atomic (empty rmw & (fre ; coe)) on one location."""
    k = len(evs)
    ix = {g: i for i, g in enumerate(evs)}
    pos = {w: i for i, w in enumerate(order)}
    rows = [0] * k
    for i, g in enumerate(evs):
        for j in bits(st.po_loc[g]):
            if j in ix:
                rows[i] |= 1 << ix[j]
    for i in range(len(order) - 1):
        rows[ix[order[i]]] |= 1 << ix[order[i + 1]]
    for r, w in rf.items():
        rows[ix[w]] |= 1 << ix[r]
        p = pos.get(w)
        if p is not None and p + 1 < len(order):
            rows[ix[r]] |= 1 << ix[order[p + 1]]  # fr to the co-successor (co is transitive)
    if not acyclic(rows):
        return False
    # atomic: for an rmw pair (r, w), no w' with r fre w' and w' coe w
    for r in evs:
        wmask = st.rmw[r]
        if not wmask or r not in rf:
            continue
        w = wmask.bit_length() - 1
        src = pos[rf[r]]
        for mid in order[src + 1:pos[w]]:
            if (st.ext[r] >> mid) & 1 and (st.ext[mid] >> w) & 1:
                return False
    return True


def _path_signature(path, loc: str) -> tuple:
    """A path's reads and writes of `loc`, as location_choices() sees them (cached on the path)."""
    sigs = path.__dict__.setdefault("_loc_sigs", {})
    sig = sigs.get(loc)
    if sig is None:
        mine = [j for j, e in enumerate(path.events) if e.loc == loc and e.kind in "RW"]
        at = {j: k for k, j in enumerate(mine)}
        partner = {a: b for a, b in path.rmw}
        sig = tuple((e.kind, e.value, e.op, e.tags, at.get(partner.get(j, -1), -1))
                    for j in mine for e in (path.events[j],))
        sigs[loc] = sig
    return sig


class ChoiceCache:
    """location_choices() per location shape: path combinations often share one location's events
    (the same reads and writes of `data` under different paths elsewhere), and the choices depend
    on nothing else.  Kept as positions among the location's events, mapped back per structure;
    a shape known to have no choice rules a combination out before its structure is built."""

    def __init__(self) -> None:
        self._memo: dict = {}

    @staticmethod
    def key(combo, loc: str) -> tuple:
        return (loc, tuple(_path_signature(p, loc) for p in combo))

    def dead(self, combo, locations) -> bool:
        """Whether some location of this path combination is known to have no rf/co choice."""
        memo = self._memo
        return any(memo.get(self.key(combo, loc)) == [] for loc in locations)

    def get(self, st, loc: str, budget=None) -> list[tuple[dict, list[int], dict]]:
        evs = [i for i in bits(st.byloc.get(loc, 0)) if st.events[i].kind in "RW"]
        key = self.key(st.combo, loc)
        local = self._memo.get(key)
        if local is None:
            pos = {g: k for k, g in enumerate(evs)}
            found = location_choices(st, loc, budget)
            local = [({pos[r]: pos[w] for r, w in rf.items()}, [pos[w] for w in order],
                      {pos[w]: v for w, v in val.items()}) for rf, order, val in found]
            self._memo[key] = local
        return [({evs[r]: evs[w] for r, w in rf.items()}, [evs[w] for w in order], {evs[w]: v for w, v in val.items()})
                for rf, order, val in local]


def location_choices(st, loc: str, budget=None) -> list[tuple[dict, list[int], dict]]:
    """Every (rf: read -> write, co order, value of each write) on `loc` consistent with coherence
    and atomicity. Values are those of the events except for RMWs whose old value nobody uses:
    theirs follow from the write they overwrite in co."""
    mask = st.byloc.get(loc, 0)
    evs = [i for i in bits(mask) if st.events[i].kind in "RW"]
    iw = st.iw[loc]
    lockish = [i for i in evs if st.events[i].tags & LOCK_TAGS]
    if lockish:
        if len(lockish) + 1 != len(evs):
            e = st.events[next(i for i in evs if i not in lockish and i != iw)]
            o = e.origin
            raise Unsupported(f"lkmm: '{loc}' is used both as a spinlock and as ordinary memory "
                              "(herd7's mixed-lock-accesses): not modelled",
                              getattr(o, "line", 0), getattr(o, "column", 0), None)
        return _lock_choices(st, loc, evs, iw)
    reads = [i for i in evs if st.events[i].kind == "R"]
    writes = [i for i in evs if st.events[i].kind == "W" and i != iw]
    return _ordinary_choices(st, evs, iw, reads, writes, budget)


def _ordinary_choices(st, evs: list[int], iw: int, reads: list[int], writes: list[int],
                      budget=None) -> list[tuple[dict, list[int], dict]]:
    """Build co one write at a time. Three facts prune the search before any product of reads-from:
    co must follow po-loc between writes (CoWW); the read of an RMW reads from the write just before
    its own in co (atomicity plus coherence leave no other choice), so its value must match; and a
    plain read may only read a write whose value it returned and that coherence does not hide."""
    events = st.events
    rmw_read = {st.rmw[r].bit_length() - 1: r for r in reads if st.rmw[r]}
    plain = [r for r in reads if not st.rmw[r]]
    wset = set(writes)
    # writes that must precede w in co: those po-loc before it
    before = {w: {x for x in writes if (st.po_loc[x] >> w) & 1} for w in writes}
    out: list[tuple[dict, list[int], dict]] = []

    def finish(order: list[int], forced: dict, val: dict) -> None:
        if budget is not None:
            budget.enforce()  # co orders grow factorially with the writes to one location
        order = list(order)  # the caller keeps extending its own list
        pos = {w: i for i, w in enumerate(order)}
        cands = []
        for r in plain:
            v = events[r].value
            # CoWR/CoRW: not older than the own writes po-before r, older than those po-after it
            lo = max((pos[w] for w in wset if (st.po_loc[w] >> r) & 1), default=0)
            hi = min((pos[w] for w in wset if (st.po_loc[r] >> w) & 1), default=len(order))
            c = [w for w in order[lo:hi] if val[w] == v]
            if not c:
                return
            cands.append(c)
        for pick in product(*cands):
            rf = dict(forced)
            rf.update(zip(plain, pick, strict=True))
            if _ok(st, evs, rf, order):
                out.append((rf, order, dict(val)))

    # co built one write at a time, depth first with an explicit stack (a location may have
    # thousands of writes: no recursion per write)
    order, left, forced, val = [iw], set(wset), {}, {iw: events[iw].value}
    if not left:
        finish(order, forced, val)
        return out
    levels = [iter(sorted(left))]  # per position in co after iw: the writes still to try there
    placed: list[tuple[int, int | None]] = []  # per position: the write put there, its RMW read
    while levels:
        w = next(levels[-1], None)
        if w is None:  # every write tried at this position: take back the one before it
            levels.pop()
            if placed:
                w, r = placed.pop()
                order.pop()
                del val[w]
                left.add(w)
                if r is not None:
                    del forced[r]
            continue
        if before[w] & left:
            continue
        prev = val[order[-1]]
        r = rmw_read.get(w)
        op = events[w].op
        if op is not None:  # value resolved here: the op applied to what w overwrites
            try:
                val[w] = op[1] if op[0] == "=" else apply_op(op[0], prev, op[1])
            except EvalError:
                continue  # e.g. arithmetic on a pointer value: no such execution
        else:
            if r is not None and prev != events[r].value:
                continue
            val[w] = events[w].value
        if r is not None:
            forced[r] = order[-1]
        order.append(w)
        left.discard(w)
        if left:
            placed.append((w, r))
            levels.append(iter(sorted(left)))
            continue
        finish(order, forced, val)  # the last write: one whole co order
        order.pop()
        del val[w]
        left.add(w)
        if r is not None:
            del forced[r]
    return out


def _lock_choices(st, loc, evs, iw):
    events = st.events
    crit = st.critical()
    lkws = [i for i in evs if "LKW" in events[i].tags]
    uls = [i for i in evs if "UL" in events[i].tags]
    matched = {w: crit[w].bit_length() - 1 for w in lkws if crit[w]}
    unmatched = [w for w in lkws if w not in matched]
    if len(unmatched) > 1:
        return []  # unmatched-locks: more than one lock never released must deadlock
    if len(set(matched.values())) != len(uls):
        e = events[next(u for u in uls if u not in matched.values())]
        o = e.origin
        raise Unsupported("lkmm: spin_unlock() without a matching spin_lock() (herd7's unmatched-unlock) "
                          "is not modelled", getattr(o, "line", 0), getattr(o, "column", 0), None)
    partner = {}
    for i in evs:
        if "LKR" in events[i].tags:
            partner[i] = st.rmw[i].bit_length() - 1
    lf_cands = []
    lfs = [i for i in evs if events[i].tags & {"LF", "RL"}]
    rus = [i for i in evs if "RU" in events[i].tags]
    for e in lfs:
        own = [w for w in lkws if (st.po_loc[w] >> e) & 1
               and not any((st.po_loc[w] >> u) & 1 and (st.po_loc[u] >> e) & 1 for u in uls)]
        if own:
            lf_cands.append(own)
        else:
            c = [w for w in lkws if (st.ext[w] >> e) & 1]
            if not c:
                return []
            lf_cands.append(c)
    for e in rus:
        prev = [u for u in uls if (st.po_loc[u] >> e) & 1]
        prev = [u for u in prev if not any((st.po_loc[u] >> u2) & 1 for u2 in prev)]
        c = prev + [w for w in [iw] + uls if (st.ext[w] >> e) & 1]
        lf_cands.append(c)
    others = lfs + rus
    out = []
    for perm in permutations(list(matched)):
        order = [iw]
        for w in perm:
            order += [w, matched[w]]
        order += unmatched
        pos = {w: i for i, w in enumerate(order)}
        base = {r: order[pos[w] - 1] for r, w in partner.items()}
        for pick in product(*lf_cands):
            rf = dict(base)
            rf.update(zip(others, pick, strict=False))
            if _ok(st, evs, rf, order):
                out.append((rf, order, {}))
    return out
