"""Objects the engine builds that must cross from a worker process to the server: how they pickle.

lkmm stepping is prepared in a worker (enumerating the allowed executions can take
seconds) and the prepared model is sent back to the server, which steps it on its event
loop.  Two kinds of object in it hold closures, which pickle refuses:

* engine.machine._ThreadCode (compiled expressions): it drops and rebuilds them itself;
* the lkmm event structure (events.Structure) keeps `fencerel`, a closure, among the
  relations it builds lazily on first use.  It is pickled without its callables and marked
  not yet complete, so the copy builds those relations again when one is first asked for.

`install()` registers the latter with copyreg; the worker calls it before answering and the
server's unpickler needs nothing (the reconstructor is a plain class).  Pickle only ever
carries objects this code built, never one a client sent.
"""

from __future__ import annotations

import copyreg
import types

__all__ = ["install"]

_installed = False


def _reduce_structure(st):
    state = {k: v for k, v in st.__dict__.items() if not isinstance(v, types.FunctionType)}
    if len(state) != len(st.__dict__):
        state["_complete"] = False  # the lazily built relations come back on first use
    cls = type(st)
    return (cls.__new__, (cls,), state)


def install() -> None:
    """Register the reducers (idempotent)."""
    global _installed
    if _installed:
        return
    from ..engine.models.lkmm.events import Structure

    copyreg.pickle(Structure, _reduce_structure)
    _installed = True
