"""Top-level shapes of a parsed scenario; bodies stay lark trees with positions."""

from __future__ import annotations

from dataclasses import dataclass, field

from lark import Tree

Value = int | str  # an int, or a pointer: the name of the location it points to


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


@dataclass
class InitEntry:
    """One item of the `{ init }` block: `x=1`, `int *p=y`, `0:r1=2`, `page->flags=4`."""

    target: str  # location name ("x", "page._refcount") or "T:reg" for a register
    value: object  # lark tree of the value expression, or None for a bare declaration
    types: tuple[str, ...]
    pos: Pos
    struct_fields: tuple[tuple[str, object], ...] | None = None  # `= { .f = v }`


@dataclass
class Function:
    name: str
    params: list[tuple[str, bool]]  # (name, is_pointer)
    body: Tree
    returns_value: bool
    pos: Pos


# ---- condition (herd7's final-state propositions) -------------------------------


@dataclass(frozen=True)
class CLoc:
    """A location in a condition: a register `T:reg` or a memory location."""

    thread: int | None
    name: str

    def key(self) -> str:
        return f"{self.thread}:{self.name}" if self.thread is not None else self.name

    def herd(self) -> str:
        return f"{self.thread}:{self.name}" if self.thread is not None else f"[{self.name}]"


@dataclass(frozen=True)
class PAtom:
    """`loc=value`, or, when value is a CLoc, herd7's location-to-location atom `0:r0=1:r0`."""

    loc: CLoc
    value: Value | CLoc
    negated: bool = False  # `!=`


@dataclass(frozen=True)
class PNot:
    arg: Prop


@dataclass(frozen=True)
class PAnd:
    args: tuple[Prop, ...]


@dataclass(frozen=True)
class POr:
    args: tuple[Prop, ...]


@dataclass(frozen=True)
class PImplies:
    left: Prop
    right: Prop


@dataclass(frozen=True)
class PConst:
    value: bool


Prop = PAtom | PNot | PAnd | POr | PImplies | PConst


def prop_locations(p: Prop) -> list[CLoc]:
    """Every location a proposition mentions, in order, repeats included."""
    if isinstance(p, PAtom):
        return [p.loc, p.value] if isinstance(p.value, CLoc) else [p.loc]
    if isinstance(p, PNot):
        return prop_locations(p.arg)
    if isinstance(p, (PAnd, POr)):
        return [x for a in p.args for x in prop_locations(a)]
    if isinstance(p, PImplies):
        return prop_locations(p.left) + prop_locations(p.right)
    return []


@dataclass
class Condition:
    quantifier: str  # "exists", "~exists", "forall"
    prop: Prop
    pos: Pos


@dataclass
class Scenario:
    """A parsed scenario: the litmus test plus pinrace's extensions."""

    name: str
    source: str
    init: list[InitEntry] = field(default_factory=list)
    defines: dict[str, tuple[object, Pos]] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    threads: list[Function] = field(default_factory=list)
    locations: list[CLoc] = field(default_factory=list)
    filter: Prop | None = None
    condition: Condition | None = None
