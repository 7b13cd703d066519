"""The tokenizer and recursive-descent parser of metric conditions (split from :mod:`.expressions`).

The text is bounded first (:func:`.condition_bounds.check_bounds`: length and nesting), so the recursion
below is at most ``MAX_NESTING`` levels deep whatever the input::

    >>> tree, tokens = parse_tree("{{a}} < 1 and not ({{b}} > 2)")
    >>> type(tree).__name__, len(tokens)
    ('BoolOp', 11)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from .condition_bounds import check_bounds
from .expressions import (
    BoolOp,
    Comparison,
    ConditionNode,
    ExpressionError,
    Metric,
    Not,
    Number,
    Operand,
)

# tokenizer -------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<placeholder>\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\})
    | (?P<bad_placeholder>\{\{[^{}\n]*\}\})
    | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_.])
    | (?P<op><=|>=|==|!=|<|>)
    | (?P<and>&&)
    | (?P<or>\|\|)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and": "and", "or": "or", "not": "not"}

_TokenKind = Literal["metric", "number", "op", "and", "or", "not", "lparen", "rparen", "end"]


@dataclass(frozen=True)
class _Token:
    kind: _TokenKind
    text: str
    pos: int


def _describe(token: _Token) -> str | None:
    if token.kind == "end":
        return None
    if token.kind == "rparen":
        return "unmatched ')'"
    return repr(token.text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            found = text[pos:].split(None, 1)[0][:20]
            if text.startswith("{{", pos):
                raise ExpressionError.expected("a closing '}}' for the placeholder", text, pos, repr(found))
            if text[pos] == "=" and not text.startswith("==", pos):
                raise ExpressionError.expected(
                    "a comparison operator (<, <=, >, >=, ==, !=); use '==' for equality",
                    text,
                    pos,
                    repr(found),
                )
            raise ExpressionError.expected(
                "a metric placeholder such as {{name}}, a number, a comparison operator, "
                "'and', 'or', 'not' or a parenthesis",
                text,
                pos,
                repr(found),
            )
        kind = match.lastgroup
        lexeme = match.group()
        if kind == "placeholder":
            tokens.append(_Token("metric", match.group("name"), pos))
        elif kind == "bad_placeholder":
            raise ExpressionError.expected(
                "a metric name matching [A-Za-z_][A-Za-z0-9_]* inside '{{...}}' "
                "(Argo expressions such as {{workflow.parameters.x}} are not metrics)",
                text,
                pos,
                repr(lexeme),
            )
        elif kind == "word":
            keyword = _KEYWORDS.get(lexeme.lower())
            if keyword == "and":
                tokens.append(_Token("and", lexeme, pos))
            elif keyword == "or":
                tokens.append(_Token("or", lexeme, pos))
            elif keyword == "not":
                tokens.append(_Token("not", lexeme, pos))
            else:
                raise ExpressionError.expected(
                    f"a metric placeholder such as {{{{{lexeme}}}}}, a number or a keyword",
                    text,
                    pos,
                    repr(lexeme),
                )
        elif kind in ("number", "op", "and", "or", "lparen", "rparen"):
            tokens.append(_Token(kind, lexeme, pos))  # type: ignore[arg-type]
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# parser ----------------------------------------------------------------------------

_OPERATORS_TEXT = "a comparison operator (<, <=, >, >=, ==, !=)"


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def error(self, what: str, note: str | None = None) -> ExpressionError:
        token = self.peek()
        return ExpressionError.expected(what, self.text, token.pos, _describe(token), note)

    def parse(self) -> ConditionNode:
        if self.peek().kind == "end":
            raise ExpressionError.expected(
                "a comparison such as '{{metric}} < 0.9'", self.text, 0, note="the condition is empty"
            )
        node = self.expr()
        if self.peek().kind != "end":
            raise self.error("'and', 'or' or the end of the condition")
        return node

    def expr(self) -> ConditionNode:
        operands = [self.and_expr()]
        while self.peek().kind == "or":
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def and_expr(self) -> ConditionNode:
        operands = [self.atom()]
        while self.peek().kind == "and":
            self.advance()
            operands.append(self.atom())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def atom(self) -> ConditionNode:
        token = self.peek()
        if token.kind == "lparen":
            self.advance()
            node = self.expr()
            if self.peek().kind != "rparen":
                raise self.error("'and', 'or' or ')'", f"to close the '(' at column {token.pos + 1}")
            self.advance()
            return node
        if token.kind == "not":
            self.advance()
            return Not(self.atom())
        return self.comparison()

    def operand(self, what: str) -> Operand:
        token = self.peek()
        if token.kind == "metric":
            self.advance()
            return Metric(token.text)
        if token.kind == "number":
            self.advance()
            value = float(token.text)
            if not math.isfinite(value):
                raise ExpressionError.expected("a number within the range of a float", self.text, token.pos)
            return Number(value)
        raise self.error(what)

    def comparison(self) -> Comparison:
        start = self.peek()
        left = self.operand("a metric placeholder such as {{name}}, a number, '(' or 'not'")
        if self.peek().kind != "op":
            raise self.error(_OPERATORS_TEXT)
        op = self.advance().text
        right = self.operand("a metric placeholder such as {{name}} or a number")
        if isinstance(left, Number) and isinstance(right, Number):
            last = self.tokens[self.index - 1]
            raise ExpressionError.expected(
                "a metric placeholder such as {{name}} on at least one side of the comparison",
                self.text,
                start.pos,
                repr(self.text[start.pos : last.pos + len(last.text)]),
            )
        return Comparison(left, op, right)


def parse_tree(text: str) -> tuple[ConditionNode, list[_Token]]:
    """The condition's tree and its tokens; :class:`ExpressionError` when it is malformed or too big."""
    check_bounds(text, "condition")
    tokens = _tokenize(text)
    return _Parser(text, tokens).parse(), tokens
