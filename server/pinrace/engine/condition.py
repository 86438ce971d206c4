"""Evaluate herd7-style propositions (`0:r0=1 /\\ x=2`) over a final state's values."""

from __future__ import annotations

from collections.abc import Mapping

from ..lang.ast import PAnd, PAtom, PConst, PNot, POr, Prop

__all__ = ["holds", "render_prop"]


def holds(p: Prop, env: Mapping[str, object]) -> bool:
    """Whether `p` is true when each location key ("0:r0", "x") has its value in `env`."""
    t = type(p)
    if t is PAtom:
        eq = env.get(p.loc.key(), 0) == p.value
        return eq != p.negated
    if t is PAnd:
        return all(holds(a, env) for a in p.args)
    if t is POr:
        return any(holds(a, env) for a in p.args)
    if t is PNot:
        return not holds(p.arg, env)
    if t is PConst:
        return p.value
    raise TypeError(p)


def render_prop(p: Prop, top: bool = True) -> str:
    """herd7's spelling: memory as `[x]`, negation as `not (...)`."""
    t = type(p)
    if t is PAtom:
        s = f"{p.loc.herd()}={p.value}"
        return f"not ({s})" if p.negated else s
    if t is PAnd:
        return " /\\ ".join(_paren(a, PAnd) for a in p.args)
    if t is POr:
        return " \\/ ".join(_paren(a, POr) for a in p.args)
    if t is PNot:
        return f"not ({render_prop(p.arg, False)})"
    if t is PConst:
        return "true" if p.value else "false"
    raise TypeError(p)


def _paren(p: Prop, parent) -> str:
    s = render_prop(p, False)
    if type(p) in (PAnd, POr) and type(p) is not parent:
        return f"({s})"
    return s
