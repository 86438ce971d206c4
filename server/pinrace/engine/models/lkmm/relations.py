"""Binary relations over a finite event set as rows of int bitmasks, with herd's operators."""

from __future__ import annotations

__all__ = [
    "empty", "ident", "union", "inter", "diff", "seq", "plus", "star", "opt", "inv", "restrict",
    "acyclic", "irreflexive", "is_empty", "cross", "bits",
]


def bits(x: int):
    """The indices of the set bits of x, lowest first."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


def empty(n: int) -> list[int]:
    return [0] * n


def ident(n: int, s: int = -1) -> list[int]:
    """[S]: the identity on the set s (all events when s is -1)."""
    return [(1 << i) if (s >> i) & 1 else 0 for i in range(n)]


def union(*rs: list[int]) -> list[int]:
    out = list(rs[0])
    for r in rs[1:]:
        for i, x in enumerate(r):
            if x:
                out[i] |= x
    return out


def inter(a: list[int], b: list[int]) -> list[int]:
    return [x & y for x, y in zip(a, b, strict=False)]


def diff(a: list[int], b: list[int]) -> list[int]:
    return [x & ~y for x, y in zip(a, b, strict=False)]


def seq(a: list[int], b: list[int]) -> list[int]:
    out = []
    for x in a:
        r = 0
        while x:
            low = x & -x
            r |= b[low.bit_length() - 1]
            x ^= low
        out.append(r)
    return out


def plus(a: list[int]) -> list[int]:
    """Transitive closure (Warshall on rows)."""
    r = list(a)
    n = len(r)
    for k in range(n):
        rk = r[k]
        if not rk:
            continue
        bk = 1 << k
        for i in range(n):
            if r[i] & bk:
                r[i] |= rk
    return r


def star(a: list[int]) -> list[int]:
    r = plus(a)
    return [x | (1 << i) for i, x in enumerate(r)]


def opt(a: list[int]) -> list[int]:
    return [x | (1 << i) for i, x in enumerate(a)]


def inv(a: list[int]) -> list[int]:
    out = [0] * len(a)
    for i, x in enumerate(a):
        bi = 1 << i
        for j in bits(x):
            out[j] |= bi
    return out


def restrict(a: list[int], dom: int, rng: int) -> list[int]:
    """[dom] ; a ; [rng]."""
    return [(x & rng) if (dom >> i) & 1 else 0 for i, x in enumerate(a)]


def cross(n: int, dom: int, rng: int) -> list[int]:
    """dom * rng."""
    return [rng if (dom >> i) & 1 else 0 for i in range(n)]


def is_empty(a: list[int]) -> bool:
    return not any(a)


def irreflexive(a: list[int]) -> bool:
    return not any((x >> i) & 1 for i, x in enumerate(a))


def acyclic(a: list[int]) -> bool:
    """No cycle in the graph whose row i is the bitmask of i's successors (Kahn's algorithm:
    linear in the edges, where the transitive closure is not)."""
    if not any(a):
        return True
    indeg = [0] * len(a)
    for x in a:
        for j in bits(x):
            indeg[j] += 1
    ready = [i for i, d in enumerate(indeg) if not d]
    seen = 0
    while ready:
        i = ready.pop()
        seen += 1
        for j in bits(a[i]):
            indeg[j] -= 1
            if not indeg[j]:
                ready.append(j)
    return seen == len(a)
