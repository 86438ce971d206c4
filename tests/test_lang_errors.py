"""Each error class reports its reason and line:column, with a caret view of the source."""

from __future__ import annotations

import pytest

from pinrace.errors import ArityError, ConditionError, InitError, SourceError, SyntaxError_, UnknownPrimitive
from pinrace.lang.compile import compile_source

GOOD_TAIL = "exists (0:r0=0)\n"


def _err(src: str) -> SourceError:
    with pytest.raises(SourceError) as ei:
        compile_source(src)
    return ei.value


def test_syntax_error_names_missing_semicolon_with_position():
    e = _err("C t\n{}\nP0(int *x) {\n  WRITE_ONCE(*x, 1)\n  r0 = READ_ONCE(*x);\n}\n" + GOOD_TAIL)
    assert isinstance(e, SyntaxError_)
    assert (e.line, e.column) == (5, 3)
    assert "missing ';'" in e.reason
    assert e.caret().splitlines() == ["  r0 = READ_ONCE(*x);", "  ^"]
    assert str(e).startswith("5:3: syntax error:")


def test_unknown_primitive_suggests_the_close_name():
    e = _err("C t\n{}\nP0(int *x) {\n  r0 = READ_ONCEE(*x);\n}\n" + GOOD_TAIL)
    assert isinstance(e, UnknownPrimitive)
    assert (e.line, e.column) == (4, 8)
    assert "'READ_ONCEE'" in e.reason and "did you mean 'READ_ONCE'" in e.reason


def test_wrong_arity():
    e = _err("C t\n{}\nP0(int *x) {\n  WRITE_ONCE(*x);\n}\nexists (x=1)\n")
    assert isinstance(e, ArityError)
    assert (e.line, e.column) == (4, 3)
    assert "WRITE_ONCE() takes 2 arguments, got 1" in e.reason


def test_condition_on_a_register_that_does_not_exist_reads_zero_with_a_warning():
    # herd7 7.58 accepts it and shows `0:r9=0;`; pinrace does the same and says why
    from pinrace.lang.compile import compile_source

    prog = compile_source("C t\n{}\nP0(int *x) {\n  r0 = READ_ONCE(*x);\n}\nexists (0:r9=0)\n")
    assert [loc.key() for loc in prog.observed] == ["0:r9"]
    assert any("P0 has no register 'r9'" in w and w.startswith("line 6") for w in prog.meta["warnings"])


def test_condition_on_a_missing_thread():
    e = _err("C t\n{}\nP0(int *x) {\n  r0 = READ_ONCE(*x);\n}\nexists (3:r0=0)\n")
    assert isinstance(e, ConditionError)
    assert "there is no thread P3" in e.reason


def test_bad_init_value():
    e = _err("C t\n{\n  x = READ_ONCE(*y);\n}\nP0(int *x) {\n  r0 = READ_ONCE(*x);\n}\n" + GOOD_TAIL)
    assert isinstance(e, InitError)
    assert (e.line, e.column) == (3, 7)
    assert "not an initial value" in e.reason


def test_unexpected_end_of_input_points_at_the_end():
    src = "C t\n{}\nP0(int *x) {\n  r0 = READ_ONCE(*x);\n"
    e = _err(src)
    assert isinstance(e, SyntaxError_)
    assert e.line == 4


def test_threads_must_be_numbered_without_gaps():
    e = _err("C t\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\nP2(int *x) { WRITE_ONCE(*x, 2); }\nexists (x=1)\n")
    assert "P0..P1" in e.reason


def test_error_dict_is_structured_for_the_api():
    e = _err("C t\n{}\nP0(int *x) {\n  r0 = READ_ONCEE(*x);\n}\n" + GOOD_TAIL)
    assert e.to_dict() == {"code": "unknown-primitive", "message": e.reason, "line": 4, "column": 8}
