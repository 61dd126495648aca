"""Splitting condition text into tokens, with operator-friendly syntax errors."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})
DURATION_UNITS = "wdhm"
MAX_INTEGER = 2**53  # integers beyond this lose precision as reals; refuse them

_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",")
_MISTAKES = {
    "=": "use '==' to compare, not '='",
    "<>": "use '!=' for 'not equal', not '<>'",
    "&&": "use 'and', not '&&'",
    "||": "use 'or', not '||'",
    "&": "use 'and', not '&'",
    "|": "use 'or', not '|'",
    "!": "use 'not', not '!'",
}
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}


class ExprSyntaxError(UserError):
    """A condition that cannot be parsed; ``message`` names the 1-based ``column``."""

    def __init__(self, detail: str, column: int) -> None:
        self.detail = detail
        self.column = column
        self.message = f"syntax error at column {column}: {detail}"
        super().__init__(self.message)


@dataclass(frozen=True)
class Token:
    """``kind`` is one of: number, duration, string, name, keyword, op, end."""

    kind: str
    text: str
    column: int
    value: int | float | str | None = None
    unit: str = ""

    def describe(self) -> str:
        """How the token is named in a syntax error."""
        if self.kind == "end":
            return "the end of the condition"
        return f"'{self.text}'"


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``, ending with an ``end`` token; raises ExprSyntaxError."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch.isdigit() or (ch == "." and text[i + 1 : i + 2].isdigit()):
            token, i = _number(text, i)
            tokens.append(token)
        elif ch in "\"'":
            token, i = _string(text, i)
            tokens.append(token)
        elif ch.isalpha() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(_word(text[i:j], col))
            i = j
        else:
            two = text[i : i + 2]
            if two in _MISTAKES:
                raise ExprSyntaxError(_MISTAKES[two], col)
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise ExprSyntaxError(_MISTAKES.get(ch, f"unexpected character '{ch}'"), col)
            tokens.append(Token("op", op, col))
            i += len(op)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _word(word: str, col: int) -> Token:
    lower = word.lower()
    if lower in KEYWORDS:
        if word != lower:
            raise ExprSyntaxError(f"write '{lower}' in lower case, not '{word}'", col)
        return Token("keyword", word, col)
    if word != lower:
        raise ExprSyntaxError(f"names are lower case: write '{lower}', not '{word}'", col)
    if not word.isascii():
        raise ExprSyntaxError(f"names use only a-z, 0-9 and '_': '{word}'", col)
    return Token("name", word, col)


def _number(text: str, start: int) -> tuple[Token, int]:
    i = start
    while i < len(text) and text[i].isdigit():
        i += 1
    is_real = i < len(text) and text[i] == "."
    if is_real:
        i += 1
        if not (i < len(text) and text[i].isdigit()):
            raise ExprSyntaxError("expected digits after the decimal point", i + 1)
        while i < len(text) and text[i].isdigit():
            i += 1
    digits = text[start:i]
    if not digits.isascii():
        raise ExprSyntaxError(f"unexpected character in number '{digits}'", start + 1)
    value: int | float = float(digits) if is_real else int(digits)
    if abs(value) > MAX_INTEGER:
        raise ExprSyntaxError(f"the number {digits} is too large", start + 1)
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] == "_"):
        j += 1
    suffix = text[i:j]
    if not suffix:
        return Token("number", digits, start + 1, value), i
    if suffix in DURATION_UNITS and len(suffix) == 1:
        return Token("duration", digits + suffix, start + 1, value, suffix), j
    raise ExprSyntaxError(
        f"unknown unit '{suffix}' after {digits} (durations use w, d, h or m, as in 90d)",
        i + 1,
    )


def _string(text: str, start: int) -> tuple[Token, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return Token("string", text[start : i + 1], start + 1, "".join(out)), i + 1
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt not in _ESCAPES:
                shown = f"\\{nxt}" if nxt else "\\"
                raise ExprSyntaxError(
                    f"unknown escape '{shown}' in a string (use \\\\, \\{quote}, \\n or \\t)",
                    i + 1,
                )
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    raise ExprSyntaxError(f"the string is never closed (missing {quote})", start + 1)
