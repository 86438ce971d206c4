"""Control flow of one CPU's compiled code: where the two ways out of a branch meet again.

A control dependency lasts from a branch to its immediate post-dominator, the first
instruction every path from the branch must reach.  For an `if` with or without `else`
that is the code after it, so, as in herd7, the code after an `if` does not depend on its
condition; for `if (c) return;` it is the end of the thread, so what follows does; for a
loop unrolled by goto or while it is the loop's exit, matching herd7's unrolling of
`while`.  Computed with Cooper, Harvey and Kennedy's iterative dominator algorithm on the
reversed flow graph.
"""

from __future__ import annotations

from .ir import Branch, Instr, Jump

__all__ = ["successors", "immediate_post_dominators"]


def successors(code: list[Instr]) -> list[tuple[int, ...]]:
    """Each instruction's successors; len(code) stands for the end of the thread."""
    out = []
    for pc, ins in enumerate(code):
        t = type(ins)
        if t is Jump:
            out.append((ins.target,))
        elif t is Branch:
            out.append((pc + 1, ins.target) if ins.target != pc + 1 else (pc + 1,))
        else:
            out.append((pc + 1,))
    return out


def immediate_post_dominators(code: list[Instr]) -> list[int]:
    """ipdom[pc] for every instruction; len(code) (the end) where every path leaves by the end,
    and also for code from which the end cannot be reached (a loop with no way out)."""
    n = len(code)
    succ = successors(code)
    rsucc: list[list[int]] = [[] for _ in range(n + 1)]  # the reversed graph, rooted at the end
    for pc, ss in enumerate(succ):
        for s in ss:
            rsucc[s].append(pc)
    # post-order of the reversed graph from the end, iteratively
    order: list[int] = []
    seen = [False] * (n + 1)
    seen[n] = True
    stack = [(n, 0)]
    while stack:
        node, k = stack.pop()
        if k < len(rsucc[node]):
            stack.append((node, k + 1))
            nxt = rsucc[node][k]
            if not seen[nxt]:
                seen[nxt] = True
                stack.append((nxt, 0))
        else:
            order.append(node)
    number = {node: i for i, node in enumerate(order)}
    idom: list[int | None] = [None] * (n + 1)
    idom[n] = n

    def meet(a: int, b: int) -> int:
        while a != b:
            while number[a] < number[b]:
                a = idom[a]  # type: ignore[assignment]
            while number[b] < number[a]:
                b = idom[b]  # type: ignore[assignment]
        return a

    changed = True
    while changed:
        changed = False
        for node in reversed(order):
            if node == n:
                continue
            new = None
            for s in succ[node]:  # a node's predecessors in the reversed graph
                if idom[s] is not None:
                    new = s if new is None else meet(s, new)
            if new is not None and idom[node] != new:
                idom[node] = new
                changed = True
    return [n if d is None else d for d in idom[:n]]
