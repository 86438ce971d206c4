"""Evaluate herd7-style propositions (`0:r0=1 /\\ x=2`) over a final state's values."""

from __future__ import annotations

from collections.abc import Mapping

from ..lang.ast import CLoc, PAnd, PAtom, PConst, PImplies, PNot, POr, Prop

__all__ = ["holds", "render_prop"]


def holds(p: Prop, env: Mapping[str, object]) -> bool:
    """Whether `p` is true when each location key ("0:r0", "x") has its value in `env`."""
    t = type(p)
    if t is PAtom:
        v = p.value
        eq = env.get(p.loc.key(), 0) == (env.get(v.key(), 0) if type(v) is CLoc else v)
        return eq != p.negated
    if t is PAnd:
        return all(holds(a, env) for a in p.args)
    if t is POr:
        return any(holds(a, env) for a in p.args)
    if t is PNot:
        return not holds(p.arg, env)
    if t is PImplies:
        return not holds(p.left, env) or holds(p.right, env)
    if t is PConst:
        return p.value
    raise TypeError(p)


def render_prop(p: Prop) -> str:
    """herd7's spelling (lib/constrGen.ml): memory as `[x]`, negation as `not (...)`, and
    parentheses only where herd7 prints them (an `\\/` inside `/\\`, either inside `=>`)."""
    return _render(p, None)


def _render(p: Prop, above) -> str:
    t = type(p)
    if t is PAtom:
        v = p.value
        s = f"{p.loc.herd()}={v.herd() if type(v) is CLoc else v}"
        return f"not ({s})" if p.negated else s
    if t is PNot:
        return f"not ({_render(p.arg, None)})"
    if t is PConst:
        return "true" if p.value else "false"
    if t is PAnd:
        s = " /\\ ".join(_render(a, PAnd) for a in p.args)
    elif t is POr:
        s = " \\/ ".join(_render(a, POr) for a in p.args)
    elif t is PImplies:
        s = f"{_render(p.left, PImplies)} => {_render(p.right, PImplies)}"
    else:
        raise TypeError(p)
    return f"({s})" if above is not None and above is not t and not (above is POr and t is PAnd) else s
