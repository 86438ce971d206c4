"""Evaluate the IR's expressions: C integer semantics on 32-bit kernel ints, and pointers."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import SourceError
from .ir import Bin, Const, Expr, Ite, Reg, Un, Value

__all__ = ["evaluate", "truth", "wrap32", "registers_of", "EvalError"]


class EvalError(SourceError):
    code = "runtime-error"
    kind = "runtime error"


def wrap32(v: int) -> int:
    """atomic_t and int are 32-bit in the kernel: wrap as two's complement does."""
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


def truth(v: Value) -> bool:
    return bool(v) if isinstance(v, int) else True


def _int(v: Value, op: str) -> int:
    if isinstance(v, int):
        return v
    raise EvalError(f"'{op}' on the pointer &{v}: pointer arithmetic is not modelled")


def _binop(op: str, a: Value, b: Value) -> Value:
    if op == "==":
        return int(a == b)
    if op == "!=":
        return int(a != b)
    if op == "&&":
        return int(truth(a) and truth(b))
    if op == "||":
        return int(truth(a) or truth(b))
    if op in ("+", "-") and (type(a) is str or type(b) is str):
        # `*(y + (r0 & 0))`: herd7's idiom for an address dependency; an offset other than 0
        # would name memory next to y, which pinrace does not model
        if type(a) is str and b == 0:
            return a
        if op == "+" and type(b) is str and a == 0:
            return b
    x, y = _int(a, op), _int(b, op)
    if op == "+":
        return wrap32(x + y)
    if op == "-":
        return wrap32(x - y)
    if op == "*":
        return wrap32(x * y)
    if op in ("/", "%"):
        if y == 0:
            raise EvalError("division by zero")
        q = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)  # C truncates toward 0
        return q if op == "/" else x - q * y
    if op == "&":
        return x & y
    if op == "|":
        return wrap32(x | y)
    if op == "^":
        return wrap32(x ^ y)
    if op == "&~":
        return x & ~y
    if op == "<<":
        return wrap32(x << (y & 63))
    if op == ">>":
        return x >> (y & 63)
    if op == "<":
        return int(x < y)
    if op == "<=":
        return int(x <= y)
    if op == ">":
        return int(x > y)
    if op == ">=":
        return int(x >= y)
    raise EvalError(f"unknown operator {op}")


def evaluate(e: Expr, regs: Mapping[str, Value]) -> Value:
    """The value of `e` with registers from `regs` (an unset register reads as 0)."""
    t = type(e)
    if t is Const:
        return e.value
    if t is Reg:
        return regs.get(e.name, 0)
    if t is Bin:
        if e.op == "&&":
            return int(truth(evaluate(e.left, regs)) and truth(evaluate(e.right, regs)))
        if e.op == "||":
            return int(truth(evaluate(e.left, regs)) or truth(evaluate(e.right, regs)))
        return _binop(e.op, evaluate(e.left, regs), evaluate(e.right, regs))
    if t is Un:
        v = evaluate(e.arg, regs)
        if e.op == "!":
            return int(not truth(v))
        if e.op == "~":
            return wrap32(~_int(v, "~"))
        if e.op == "-":
            return wrap32(-_int(v, "-"))
        raise EvalError(f"unknown operator {e.op}")
    if t is Ite:
        return evaluate(e.then if truth(evaluate(e.cond, regs)) else e.other, regs)
    raise EvalError(f"cannot evaluate {e!r}")


def registers_of(e: Expr) -> frozenset[str]:
    """Registers an expression reads: the source of data, address and control dependencies."""
    t = type(e)
    if t is Reg:
        return frozenset((e.name,))
    if t is Bin:
        return registers_of(e.left) | registers_of(e.right)
    if t is Un:
        return registers_of(e.arg)
    if t is Ite:
        return registers_of(e.cond) | registers_of(e.then) | registers_of(e.other)
    return frozenset()


def apply_op(op: str, old: Value, operand: Value) -> Value:
    """The new value of an atomic RMW `old op operand` (atomic_add, atomic_andnot, ...)."""
    return _binop(op, old, operand)


def closure(e: Expr, slot: Mapping[str, int]):
    """Compile `e` to a function of a register tuple: the engine's hot path avoids dicts."""
    t = type(e)
    if t is Const:
        v = e.value
        return lambda regs: v
    if t is Reg:
        i = slot[e.name]
        return lambda regs: regs[i]
    if t is Bin:
        a, b, op = closure(e.left, slot), closure(e.right, slot), e.op
        if op == "&&":
            return lambda regs: int(truth(a(regs)) and truth(b(regs)))
        if op == "||":
            return lambda regs: int(truth(a(regs)) or truth(b(regs)))
        if op == "==":
            return lambda regs: int(a(regs) == b(regs))
        if op == "!=":
            return lambda regs: int(a(regs) != b(regs))
        return lambda regs: _binop(op, a(regs), b(regs))
    if t is Un:
        f, op = closure(e.arg, slot), e.op
        if op == "!":
            return lambda regs: int(not truth(f(regs)))
        if op == "~":
            return lambda regs: wrap32(~_int(f(regs), "~"))
        return lambda regs: wrap32(-_int(f(regs), "-"))
    if t is Ite:
        c, x, y = closure(e.cond, slot), closure(e.then, slot), closure(e.other, slot)
        return lambda regs: x(regs) if truth(c(regs)) else y(regs)
    raise EvalError(f"cannot compile {e!r}")
