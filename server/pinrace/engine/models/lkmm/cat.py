"""The axioms of linux-kernel.cat (happens-before, propagation, rcu, plain-coherence) and its flags."""

from __future__ import annotations

from .relations import acyclic, diff, ident, inter, inv, irreflexive, is_empty, opt, restrict, seq, star, union

__all__ = ["judge"]


def judge(st, rf: list[int], co: list[int], keep: dict | None = None) -> tuple[str | None, list[str]]:
    """(None, flags) when the execution is allowed, else (name of the failed axiom, []).

    `keep`, when given, receives the relations computed on the way (ppo, hb, pb, prop, fences,
    rfe, fr, ...): the stepper reads execution order and explanations from them."""
    n, full, M, Marked, po = st.n, st.full, st.M, st.Marked, st.po
    ext, int_ = st.ext, st.int_
    fr = seq(inv(rf), co)
    rfe, rfi = inter(rf, ext), inter(rf, int_)
    overwrite = union(co, fr)
    idM = ident(n, Marked)

    # po-unlock-lock-po and the rf-dependent part of mb
    if st.UL:
        pulp = seq(seq(restrict(po, full, st.UL), restrict(union(po, rf), full, st.LKR)), po)
    else:
        pulp = [0] * n
    mb = st.mb_static
    if st.UL:
        mb = union(mb, seq(restrict(pulp, M, full), st.aul_po))
    strong_fence = union(mb, st.gp)
    nonrw_fence = union(strong_fence, st.po_rel, st.acq_po)
    fence = union(nonrw_fence, st.wmb, st.rmb)

    # dependencies carried through plain accesses
    if any(rfi):
        carry = star(seq(restrict(st.data0, full, full & ~st.SrcuUnlock), rfi))
        addr, data, ctrl = seq(carry, st.addr0), seq(carry, st.data0), seq(carry, st.ctrl0)
    else:
        addr, data, ctrl = st.addr0, st.data0, st.ctrl0
    dep = union(addr, data)
    rwdep = restrict(union(dep, ctrl), full, st.W)
    to_w = union(rwdep, inter(overwrite, int_), seq(restrict(addr, full, st.Plain), st.wmb))
    to_r = union(restrict(addr, full, st.R), seq(restrict(dep, full, Marked), rfi))
    ppo = union(to_r, to_w, inter(fence, int_), inter(pulp, int_))

    rmw_seq = star(seq(rf, st.rmw))
    rfe_m = restrict(rfe, full, Marked)
    a_cumul = seq(opt(rfe_m), union(strong_fence, st.po_rel))
    cumul_fence = seq(restrict(union(a_cumul, st.wmb, pulp), Marked, Marked), rmw_seq)
    cf_star = star(cumul_fence)
    prop = restrict(seq(seq(seq(opt(inter(overwrite, ext)), cf_star), restrict(opt(rfe), Marked, Marked)), idM),
                    Marked, Marked)
    prop_noid_int = inter([x & ~(1 << i) for i, x in enumerate(prop)], int_)
    hb = restrict(union(ppo, rfe, prop_noid_int), Marked, Marked)
    if keep is not None:
        keep.update(ppo=ppo, hb=hb, prop=prop, rfe=rfe, rfi=rfi, fr=fr, co=co, rf=rf, fence=fence,
                    strong_fence=strong_fence, mb=mb, addr=addr, data=data, ctrl=ctrl, pulp=pulp,
                    cumul_fence=cumul_fence)
    if not acyclic(hb):
        return "happens-before", []
    hb_star = star(hb)
    pb = restrict(seq(seq(prop, strong_fence), hb_star), full, Marked)
    if keep is not None:
        keep["pb"] = pb
    if not acyclic(pb):
        return "propagation", []
    pb_star = star(pb)

    rb = None
    fence2, strong2 = fence, strong_fence
    if st.has_rcu:
        link = seq(seq(seq(seq(st.po_opt, hb_star), pb_star), prop), po)
        g, sg = ident(n, st.SyncRcu), ident(n, st.SyncSrcu)
        ri = inv(st.rcu_rscs)
        sri = inv(st.srcu_rscs(rf))
        loc = st.loc

        def s3(a, b, c):
            return seq(seq(a, link), seq(b, c)) if b is None else seq(seq(seq(seq(a, link), b), link), c)

        base = union(g, sg, seq(seq(g, link), ri), inter(seq(seq(sg, link), sri), loc),
                     seq(seq(ri, link), g), inter(seq(seq(sri, link), sg), loc))
        order = base
        while True:
            nxt = union(base, s3(g, order, ri), inter(s3(sg, order, sri), loc), s3(ri, order, g),
                        inter(s3(sri, order, sg), loc), seq(seq(order, link), order))
            if nxt == order:
                break
            order = nxt
        rcu_fence = seq(seq(po, order), st.po_opt)
        fence2 = union(fence, rcu_fence)
        strong2 = union(strong_fence, rcu_fence)
        rb = restrict(seq(seq(seq(prop, rcu_fence), hb_star), pb_star), full, Marked)
        if not irreflexive(rb):
            return "rcu", []

    flags = []
    if st.has_plain:
        xb = union(hb, pb, rb) if rb is not None else union(hb, pb)
        xbstar = star(xb)
        vis = seq(seq(seq(star(cumul_fence), opt(rfe)), idM),
                  union(seq(restrict(strong2, full, Marked), xbstar), inter(xbstar, int_)))
        w_pre = restrict(opt(union(addr, fence2)), Marked, full)
        rmb_f = st.fencerel(_tag_mask(st, "rmb"))
        r_pre = restrict(opt(union(addr, nonrw_fence, restrict(rmb_f, st.R4rmb, full & ~st.Noreturn))), Marked, full)
        w_post = seq(restrict(opt(fence2), full, Marked), rmw_seq)
        r_post = restrict(opt(union(nonrw_fence, restrict(rmb_f, full & ~st.Noreturn, st.R4rmb))), full, Marked)
        ww_vis = union(fence2, seq(seq(strong2, xbstar), w_pre), seq(seq(w_post, vis), w_pre))
        wr_vis = union(fence2, seq(seq(strong2, xbstar), r_pre), seq(seq(w_post, vis), r_pre))
        rw_xbstar = union(fence2, seq(seq(r_post, xbstar), w_pre))
        pre_race = [ext[i] & ((M if (st.Plain >> i) & 1 else 0)
                              | (st.Plain if (M & ~st.IW) >> i & 1 else 0)) for i in range(n)]
        wr_incoh = inter(inter(pre_race, rf), inv(rw_xbstar))
        rw_incoh = inter(inter(pre_race, fr), inv(wr_vis))
        ww_incoh = inter(inter(pre_race, co), inv(ww_vis))
        if not (is_empty(wr_incoh) and is_empty(rw_incoh) and is_empty(ww_incoh)):
            return "plain-coherence", []
        marked_w = [st.W if (Marked >> i) & 1 else 0 for i in range(n)]
        w_marked = [Marked if (st.W >> i) & 1 else 0 for i in range(n)]
        ww_nonrace = inter(inter(ww_vis, union(marked_w, rw_xbstar)), union(w_marked, wr_vis))
        ww_race = diff(inter(pre_race, co), ww_nonrace)
        wr_race = diff(diff(inter(pre_race, seq(opt(co), rf)), wr_vis), inv(rw_xbstar))
        rw_race = diff(inter(pre_race, fr), rw_xbstar)
        if not (is_empty(ww_race) and is_empty(wr_race) and is_empty(rw_race)):
            flags.append("data-race")
        if st.mixed:
            flags.append("mixed-accesses")
    return None, flags


def _tag_mask(st, t: str) -> int:
    m = 0
    for i, e in enumerate(st.events):
        if t in e.tags:
            m |= 1 << i
    return m

