"""Scaled page-pin scenarios: k-1 CPUs pin and unpin with a retry loop against writeback."""

from __future__ import annotations

__all__ = ["scaled_source"]


def scaled_source(k: int, fenced: bool = True) -> str:
    """k CPUs: P0..P(k-2) pin (add bias, re-check writeback, back off and retry) and keep
    the pin for DMA; P(k-1) starts writeback and samples the refcount.  Bad outcome:
    writeback saw no pin while some pinner holds one believing writeback is not running."""
    fence = "smp_mb__after_atomic();" if fenced else "smp_wmb();"
    pinners = []
    for i in range(k - 1):
        pinners.append(f"""P{i}(atomic_t *refcount, int *wb)
{{
	int r0;
retry:
	atomic_add(BIAS, refcount);
	{fence}
	r0 = READ_ONCE(*wb);
	if (r0) {{
		atomic_sub(BIAS, refcount);
		goto retry;
	}}
	/* DMA runs here: the pin is held */
}}""")
    oks = " \\/ ".join(f"{i}:r0=0" for i in range(k - 1))
    return f"""C scaled-pin-{k}
#define BIAS 1024
#define PINRACE_LOOP_BOUND 2
{{ atomic_t refcount = ATOMIC_INIT(1); int wb = 0; }}

{chr(10).join(pinners)}

P{k - 1}(atomic_t *refcount, int *wb)
{{
	int r1;
	int r2;
	r1 = xchg(wb, 1);
	smp_mb();
	r2 = atomic_read(refcount);
}}

exists (({oks}) /\\ {k - 1}:r2=1)
"""
