"""Parse scenario text (herd7 LKMM litmus C plus pinrace's extensions) into a Scenario."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import ConditionError, SyntaxError_
from .ast import (
    CLoc,
    Condition,
    Function,
    InitEntry,
    PAnd,
    PAtom,
    PConst,
    PImplies,
    PNot,
    POr,
    Pos,
    Prop,
    Scenario,
)

__all__ = ["parse", "parse_prop"]

_GRAMMAR = Path(__file__).with_name("grammar.lark")
_THREAD = re.compile(r"P(\d+)$")
# herd7's header lines between `C NAME` and the init block: a quoted description and
# `Key=value` lines (diy7 writes Cycle=, Relax=, Safe=, Prefetch=, Com=, Orig=); herd7 ignores them
_HEADER_LINE = re.compile(r'\s*(?:"[^"]*"?|[A-Za-z][\w.-]*\s*=.*)\s*$')

# Typical mistakes, matched on what the parser expected and saw, with a friendlier word.
_FRIENDLY = [
    (lambda exp, tok: tok == "$END" and "RBRACE" in exp, "missing '}' before the end of the file"),
    (lambda exp, tok: "SEMICOLON" in exp and tok not in ("SEMICOLON",), "missing ';'"),
    (lambda exp, tok: tok == "$END" and "QUANT" in exp, "the test ends without an exists/forall condition"),
]


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # cache=True stores the LALR tables next to the interpreter's temp dir, so start-up
    # after the first run skips grammar analysis.
    return Lark(
        _GRAMMAR.read_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
        start=["start", "expr", "prop"],
    )


def _pos(node) -> Pos:
    if isinstance(node, Token):
        return Pos(node.line or 0, node.column or 0)
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return Pos(meta.line, meta.column)
    return Pos(0, 0)


def _syntax_error(e: UnexpectedInput, source: str) -> SyntaxError_:
    line, col = getattr(e, "line", 0) or 0, getattr(e, "column", 0) or 0
    if isinstance(e, UnexpectedCharacters):
        ch = source[e.pos_in_stream] if e.pos_in_stream < len(source) else "?"
        return SyntaxError_(f"unexpected character {ch!r}", line, col, source)
    if isinstance(e, UnexpectedEOF):
        lines = source.splitlines() or [""]
        return SyntaxError_("unexpected end of input", len(lines), len(lines[-1]) + 1, source)
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    expected = set(e.expected)
    if tok.type == "$END":
        lines = source.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    if "C" in expected and not source[: getattr(tok, "start_pos", 0) or 0].strip():
        return SyntaxError_(f"this is not a litmus test: a litmus test starts with `C name` (then the initial "
                            f"state in braces, one `P0(...) {{ ... }}` per CPU and a condition such as "
                            f"`exists (0:r0=1)`), or give a built-in protocol's name; found {_describe(tok)}",
                            line, col, source)
    for match, words in _FRIENDLY:
        if match(expected, tok.type):
            return SyntaxError_(f"{words} (found {_describe(tok)})", line, col, source)
    names = ", ".join(sorted(_human(t) for t in expected)[:6])
    return SyntaxError_(f"unexpected {_describe(tok)}; expected one of: {names}", line, col, source)


def _describe(tok: Token) -> str:
    return "end of input" if tok.type == "$END" else repr(str(tok))


def _human(term: str) -> str:
    table = {"SEMICOLON": "';'", "RBRACE": "'}'", "LBRACE": "'{'", "RPAR": "')'", "LPAR": "'('",
             "NAME": "a name", "NUMBER": "a number", "QUANT": "exists/forall", "COMMA": "','",
             "EQUAL": "'='", "RSQB": "']'", "LSQB": "'['"}
    return table.get(term, term.lower())


def _blank_header(source: str) -> str:
    """The source with herd7's header lines blanked out (same length, so positions hold)."""
    lines = source.split("\n")
    i = 0
    while i < len(lines) and not lines[i].lstrip().startswith("C "):
        i += 1
    j = i + 1
    quoted = False  # a description may run over several lines
    while j < len(lines):
        ln = lines[j]
        if quoted or _HEADER_LINE.fullmatch(ln) or (ln.lstrip().startswith('"')):
            quoted = (quoted and '"' not in ln) or (not quoted and ln.count('"') == 1)
            lines[j] = " " * len(ln)
        elif ln.strip():
            break
        j += 1
    return "\n".join(lines)


def _blank_ocaml_comments(source: str) -> str:
    """The source with herd7's `(* ... *)` comments blanked where herd7 reads them as comments:
    outside function bodies (the header, the init block, the condition), nested as in OCaml.
    Inside a body `(*x)` is a dereference; there only the grammar's `(* ` form is a comment."""
    if "(*" not in source:
        return source
    out = list(source)
    n = len(source)
    depth = 0
    body = False  # inside a function body (a `{` after `)` at the top level)
    last = ""  # the last non-blank character outside comments, at the top level
    i = 0
    while i < n:
        ch = source[i]
        two = source[i:i + 2]
        if two == "//":
            j = source.find("\n", i)
            i = n if j < 0 else j
            continue
        if two == "/*":
            j = source.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if two == "(*" and not body:
            level, j = 0, i
            while j < n:
                if source.startswith("(*", j):
                    level += 1
                    j += 2
                elif source.startswith("*)", j):
                    level -= 1
                    j += 2
                    if not level:
                        break
                else:
                    j += 1
            if level:  # never closed: not a comment after all (`x = READ_ONCE(*y)` in an init block)
                i += 2
                continue
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        if ch == "{":
            if depth == 0:
                body = last == ")"
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                body = False
        if not ch.isspace() and depth == 0:
            last = ch
        i += 1
    return "".join(out)


def parse(source: str) -> Scenario:
    """Parse scenario text; raise a SourceError subclass with line:column on bad input."""
    try:
        tree = _lark().parse(_blank_ocaml_comments(_blank_header(source)), start="start")
    except UnexpectedInput as e:
        raise _syntax_error(e, source) from None
    return _Builder(source).build(tree)


def parse_prop(text: str) -> Prop:
    """Parse a standalone proposition such as `0:r0=0 /\\ 1:r0=0` (for invariants)."""
    try:
        tree = _lark().parse(text, start="prop")
    except UnexpectedInput as e:
        raise _syntax_error(e, text) from None
    return _Builder(text).prop(tree)


class _Builder:
    def __init__(self, source: str):
        self.source = source

    def build(self, tree: Tree) -> Scenario:
        name_tok = tree.children[0]
        # herd7 drops a `.litmus` its users sometimes leave on the name
        sc = Scenario(name=str(name_tok).removesuffix(".litmus"), source=self.source)
        for item in tree.children[1:]:
            kind = item.data
            if kind == "init_block":
                sc.init.extend(self.init_block(item))
            elif kind == "define":
                _, nm, val = item.children
                if str(nm) in sc.defines:
                    raise SyntaxError_(f"'{nm}' is defined twice", nm.line, nm.column, self.source)
                sc.defines[str(nm)] = (val, _pos(nm))
            elif kind == "fundef":
                fn = self.fundef(item)
                m = _THREAD.match(fn.name)
                if m and not fn.returns_value:
                    sc.threads.append(fn)
                else:
                    if fn.name in sc.functions:
                        raise SyntaxError_(f"function '{fn.name}' is defined twice",
                                           fn.pos.line, fn.pos.column, self.source)
                    sc.functions[fn.name] = fn
            elif kind == "structdef":
                continue
            elif kind == "cond_section":
                self.cond_section(item, sc)
        self.check_threads(sc)
        if sc.condition is None:  # herd7 reads a test without a condition as `forall (true)`
            lines = self.source.splitlines() or [""]
            sc.condition = Condition("forall", PConst(True), Pos(len(lines), len(lines[-1]) + 1))
        return sc

    def check_threads(self, sc: Scenario) -> None:
        if not sc.threads:
            raise SyntaxError_("no thread: a test needs at least one P0(...) { ... }",
                               1, 1, self.source)
        seen = []
        for t in sc.threads:
            n = int(_THREAD.match(t.name).group(1))
            seen.append(n)
        if sorted(seen) != list(range(len(seen))):
            t = sc.threads[-1]
            raise SyntaxError_(
                f"threads must be numbered P0..P{len(seen) - 1} without gaps or repeats",
                t.pos.line, t.pos.column, self.source)
        sc.threads.sort(key=lambda t: int(t.name[1:]))

    # ---- init ------------------------------------------------------------------
    def init_block(self, block: Tree) -> list[InitEntry]:
        out = []
        for decl in block.children:
            if not isinstance(decl, Tree) or decl.data != "init_decl":
                continue
            kids = [c for c in decl.children if isinstance(c, Tree)]
            types = tuple(self.typename(c) for c in kids if c.data in ("typespec", "struct_type"))
            lhs = next(c for c in kids if c.data in ("init_name", "init_field", "init_reg"))
            rest = [c for c in decl.children if isinstance(c, Tree) and c.data in ("init_val", "init_struct")]
            if lhs.data == "init_name":
                target = str(lhs.children[0])
            elif lhs.data == "init_field":
                target = f"{lhs.children[0]}.{lhs.children[1]}"
            else:  # `0:r1` or herd7's `P0:r1`
                target = f"{str(lhs.children[0]).lstrip('P')}:{lhs.children[1]}"
            value, fields = None, None
            if rest:
                r = rest[0]
                if r.data == "init_struct":
                    fields = tuple((str(f.children[0]), f.children[1]) for f in r.children if isinstance(f, Tree))
                else:
                    value = r.children[0]
            out.append(InitEntry(target, value, types, _pos(lhs), fields))
        return out

    @staticmethod
    def typename(t: Tree) -> str:
        if t.data == "struct_type":
            return f"struct {t.children[0]}"
        return str(t.children[0])

    # ---- functions and threads -------------------------------------------------
    def fundef(self, node: Tree) -> Function:
        types = [c for c in node.children if isinstance(c, Tree) and c.data in ("typespec", "struct_type")]
        name = next(c for c in node.children if isinstance(c, Token) and c.type == "NAME")
        params_node = next((c for c in node.children if isinstance(c, Tree) and c.data == "params"), None)
        body = next(c for c in node.children if isinstance(c, Tree) and c.data == "block")
        params: list[tuple[str, bool]] = []
        if params_node is not None:
            for p in params_node.children:
                if not isinstance(p, Tree):
                    continue
                pname = next((c for c in p.children if isinstance(c, Token) and c.type == "NAME"), None)
                if pname is None:
                    continue  # `(void)` style unnamed parameter
                tnames = [self.typename(c) for c in p.children if isinstance(c, Tree)]
                is_ptr = any(isinstance(c, Token) and c.type == "STAR" for c in p.children) or \
                    "*" in p.children or any(t.startswith("struct") for t in tnames)
                params.append((str(pname), is_ptr))
        tnames = [self.typename(t) for t in types]
        returns = bool(tnames) and tnames != ["void"] and not (
            set(tnames) <= {"static", "inline", "void"})
        return Function(str(name), params, body, returns, _pos(name))

    # ---- condition -------------------------------------------------------------
    def cond_section(self, node: Tree, sc: Scenario) -> None:
        for part in node.children:
            if part.data == "locations":
                for item in part.children:
                    if isinstance(item, Tree):
                        sc.locations.append(self.cloc(item.children[0]))
            elif part.data == "filter":
                sc.filter = self.prop(part.children[0])
            elif part.data == "condition":
                quant = part.children[0]
                body = part.children[1]
                sc.condition = Condition(_quantifier(str(quant)), self.prop(body), _pos(quant))

    def cloc(self, node: Tree) -> CLoc:
        if node.data == "creg":
            return CLoc(int(str(node.children[0]).lstrip("P")), str(node.children[1]))
        if node.data == "cfield":
            return CLoc(None, f"{node.children[0]}.{node.children[1]}")
        return CLoc(None, str(node.children[0]))

    def prop(self, node) -> Prop:
        kind = node.data
        if kind in ("peq", "pne"):
            loc = self.cloc(node.children[0])
            v = node.children[1]
            if v.data == "cint":
                try:
                    value: int | str = int(str(v.children[0]), 0)
                except ValueError:
                    raise ConditionError(f"bad number {v.children[0]}", *self.lc(v), self.source) from None
            elif v.data == "cptrfield":
                value = f"{v.children[0]}.{v.children[1]}"
            elif v.data in ("creg", "cmem", "cfield"):
                value = self.cloc(v)
            else:
                value = str(v.children[0])
            return PAtom(loc, value, negated=(kind == "pne"))
        if kind == "pand":
            return PAnd(tuple(self._flatten(node, "pand")))
        if kind == "por":
            return POr(tuple(self._flatten(node, "por")))
        if kind == "pnot":
            return PNot(self.prop(node.children[0]))
        if kind == "pimplies":
            return PImplies(self.prop(node.children[0]), self.prop(node.children[1]))
        if kind == "ptrue":
            return PConst(True)
        if kind == "pfalse":
            return PConst(False)
        raise ConditionError(f"unexpected {kind}", *self.lc(node), self.source)

    def _flatten(self, node: Tree, kind: str) -> list[Prop]:
        out: list[Prop] = []
        for c in node.children:
            if isinstance(c, Tree) and c.data == kind:
                out.extend(self._flatten(c, kind))
            else:
                out.append(self.prop(c))
        return out

    @staticmethod
    def lc(node) -> tuple[int, int]:
        p = _pos(node)
        return p.line, p.column


def _quantifier(word: str) -> str:
    """herd7's quantifiers: `~ exists` may be spaced; `final` is the old spelling of exists."""
    word = "".join(word.split())
    return "exists" if word == "final" else word
