"""One exception root for pinrace: user errors carry a position, tool errors say so."""

from __future__ import annotations

__all__ = [
    "PinraceError",
    "SourceError",
    "SyntaxError_",
    "UnknownPrimitive",
    "ArityError",
    "ConditionError",
    "InitError",
    "Unsupported",
    "LimitExceeded",
    "ScheduleError",
    "EngineFault",
]


_CARET_WIDTH = 100


class PinraceError(Exception):
    """Root of every error pinrace raises on purpose."""

    code = "error"

    def to_dict(self) -> dict:
        return {"code": self.code, "message": str(self)}


class SourceError(PinraceError):
    """A problem in user-supplied scenario text, with line and column (1-based)."""

    code = "source-error"
    kind = "error"

    def __init__(self, reason: str, line: int = 0, column: int = 0, source: str | None = None):
        self.reason = reason
        self.line = line
        self.column = column
        self.source = source
        super().__init__(self._render())

    def caret(self) -> str:
        """The offending source line with a caret under the column."""
        if not self.source or self.line <= 0:
            return ""
        lines = self.source.splitlines()
        if self.line > len(lines):
            return ""
        text = lines[self.line - 1].expandtabs(4)
        raw = lines[self.line - 1]
        # expandtabs shifts columns; recompute the caret position on the expanded text
        col = len(raw[: max(self.column - 1, 0)].expandtabs(4))
        if len(text) > _CARET_WIDTH:  # a window around the column, not a 200,000-character line
            start = max(0, min(col - _CARET_WIDTH // 2, len(text) - _CARET_WIDTH))
            text = ("…" if start else "") + text[start:start + _CARET_WIDTH] + \
                ("…" if start + _CARET_WIDTH < len(text) else "")
            col = col - start + (1 if start else 0)
        return f"{text}\n{' ' * col}^"

    def _render(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line else ""
        return f"{where}{self.kind}: {self.reason}"

    def pretty(self) -> str:
        """Message plus caret view, for terminals."""
        c = self.caret()
        return f"{self}\n{c}" if c else str(self)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.reason,
            "line": self.line,
            "column": self.column,
        }


class SyntaxError_(SourceError):
    code = "syntax-error"
    kind = "syntax error"


class UnknownPrimitive(SourceError):
    code = "unknown-primitive"
    kind = "unknown primitive"


class ArityError(SourceError):
    code = "wrong-arity"
    kind = "wrong number of arguments"


class ConditionError(SourceError):
    code = "bad-condition"
    kind = "bad condition"


class InitError(SourceError):
    code = "bad-init"
    kind = "bad initial state"


class Unsupported(SourceError):
    """A construct the chosen model does not handle: never a guessed verdict."""

    code = "unsupported"
    kind = "unsupported"


class LimitExceeded(SourceError):
    """Scenario text over one of the configured limits (pinrace.limits): CPUs, operations, loop bound."""

    code = "limit-exceeded"
    kind = "limit exceeded"


class ScheduleError(PinraceError):
    """A schedule that does not fit the scenario: names the step and the reason."""

    code = "bad-schedule"

    def __init__(self, reason: str, step: int | None = None, rule: str | None = None):
        self.reason = reason
        self.step = step
        self.rule = rule
        where = f"step {step}: " if step is not None else ""
        super().__init__(f"{where}{reason}")

    def to_dict(self) -> dict:
        d = {"code": self.code, "message": self.reason}
        if self.step is not None:
            d["step"] = self.step
        if self.rule:
            d["rule"] = self.rule
        return d


class EngineFault(PinraceError):
    """pinrace's own bug, not the user's: reported as such."""

    code = "internal-error"
