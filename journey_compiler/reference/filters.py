"""`where:` filters evaluated in Python over the sqlglot AST that `journey_compiler.expressions.parse_filter`
allow-lists, with SQL's three-valued logic (None is NULL; a row passes only when the filter is TRUE).

Spec section 2: "Filter expressions (`where:`, segment rules) are a small SQL expression language parsed with
sqlglot and checked against an allow-list (columns of the declared tables, attributes, comparison, boolean,
IN, LIKE, arithmetic, a few functions)."

>>> passes("value >= 50 AND sku LIKE 'S%'", {"value": 60.0, "sku": "SHOE"})
True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlglot import exp

from journey_compiler.config.warehouse import ColumnType
from journey_compiler.expressions import parse_filter

Row = Mapping[str, Any]


@cache
def _tree(text: str) -> exp.Expression:
    return parse_filter(text)


def passes(text: str | None, row: Row) -> bool:
    """Does the row pass the filter (no filter: every row does)?"""
    return text is None or evaluate(_tree(text), row) is True


# ---------------------------------------------------------------- typed values from JSON documents


def json_text(value: Any) -> str | None:
    """A JSON value as the warehouse's `->>` gives it: scalars as text, objects and lists as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, date):  # detail rows may hold dates and timestamps as such
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return json.dumps(value)


def typed(value: Any, kind: ColumnType) -> Any:
    """A declared attribute or property as `TRY_CAST(json ->> key AS kind)`: what does not convert is NULL."""
    text = json_text(value)
    if text is None or kind == "text":
        return text
    try:
        if kind == "double":
            return float(text)
        if kind in ("bigint", "integer"):
            return int(text)
        if kind == "boolean":
            return {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}[text.lower()]
        if kind == "date":
            return date.fromisoformat(text[:10])
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except (ValueError, KeyError):
        return None


def typed_row(document: Mapping[str, Any] | None, declared: Mapping[str, ColumnType]) -> dict[str, Any]:
    document = document or {}
    return {name: typed(document.get(name), kind) for name, kind in declared.items()}


# ---------------------------------------------------------------- evaluation


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """A text literal compared with a date, timestamp or number is read as one (as SQL casts it)."""
    for a, b, flip in ((left, right, False), (right, left, True)):
        if isinstance(a, str) and not isinstance(b, str | bool) and b is not None:
            try:
                if isinstance(b, datetime):
                    a = datetime.fromisoformat(a)
                elif isinstance(b, date):
                    a = date.fromisoformat(a)
                else:
                    a = float(a)
            except ValueError:
                return left, right
            return (b, a) if flip else (a, b)
    return left, right


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool | None]:
    def compare(left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            return None
        return op(*_comparable(left, right))

    return compare


_COMPARISONS: dict[type[exp.Expression], Callable[[Any, Any], bool | None]] = {
    exp.EQ: _compare(lambda a, b: a == b),
    exp.NEQ: _compare(lambda a, b: a != b),
    exp.GT: _compare(lambda a, b: a > b),
    exp.GTE: _compare(lambda a, b: a >= b),
    exp.LT: _compare(lambda a, b: a < b),
    exp.LTE: _compare(lambda a, b: a <= b),
}


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        if left is None or right is None:
            return None
        return op(*_comparable(left, right))

    return apply


def _divide(a: Any, b: Any) -> float:
    """`/` divides as doubles; by zero it gives +-inf (nan for 0 / 0), as DuckDB does."""
    if b == 0:
        return math.copysign(math.inf, a) if a != 0 else math.nan
    return a / b


def _modulo(a: Any, b: Any) -> Any:
    """`%` keeps the dividend's sign (SQL's, not Python's); by zero: nan."""
    if b == 0:
        return math.nan
    result = math.fmod(a, b)
    return int(result) if isinstance(a, int) and isinstance(b, int) else result


_ARITHMETIC: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.Add: _arith(lambda a, b: a + b),
    exp.Sub: _arith(lambda a, b: a - b),
    exp.Mul: _arith(lambda a, b: a * b),
    exp.Div: _arith(_divide),
    exp.Mod: _arith(_modulo),
    exp.DPipe: _arith(lambda a, b: f"{_text(a)}{_text(b)}"),
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def _like(value: Any, pattern: Any, *, ignore_case: bool) -> bool | None:
    if value is None or pattern is None:
        return None
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
    return re.fullmatch(regex, _text(value), re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def _or(left: bool | None, right: bool | None) -> bool | None:
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _in(value: Any, options: list[Any]) -> bool | None:
    if value is None:
        return None
    compare = _COMPARISONS[exp.EQ]
    answers = [compare(value, option) for option in options]
    if True in answers:
        return True
    return None if None in answers else False


def _literal(node: exp.Literal) -> Any:
    if node.is_string:
        return node.this
    text = node.this
    return float(text) if any(c in text for c in ".eE") else int(text)


def _round(value: Any, digits: Any) -> Any:
    """Half away from zero, on the scaled double (as DuckDB's `round`), not Python's half-to-even."""
    if value is None:
        return None
    scale = 10.0 ** int(digits or 0)
    return math.copysign(math.floor(abs(value) * scale + 0.5), value) / scale


_FUNCTIONS: dict[type[exp.Expression], Callable[[Any], Any]] = {
    exp.Lower: lambda v: None if v is None else _text(v).lower(),
    exp.Upper: lambda v: None if v is None else _text(v).upper(),
    exp.Abs: lambda v: None if v is None else abs(v),
    exp.Length: lambda v: None if v is None else len(_text(v)),
    exp.Trim: lambda v: None if v is None else _text(v).strip(),
}


def evaluate(node: exp.Expression, row: Row) -> Any:
    """The value of one allow-listed node for the row (a column missing from the row is NULL)."""
    ev = lambda child: evaluate(child, row)  # noqa: E731
    kind = type(node)
    if kind is exp.Column:
        return row.get(node.name)
    if kind is exp.Literal:
        return _literal(node)  # type: ignore[arg-type]
    if kind is exp.Boolean:
        return bool(node.this)
    if kind is exp.Null:
        return None
    if kind is exp.Paren:
        return ev(node.this)
    if kind in _COMPARISONS:
        return _COMPARISONS[kind](ev(node.this), ev(node.expression))
    if kind in _ARITHMETIC:
        return _ARITHMETIC[kind](ev(node.this), ev(node.expression))
    if kind is exp.And:
        return _and(ev(node.this), ev(node.expression))
    if kind is exp.Or:
        return _or(ev(node.this), ev(node.expression))
    if kind is exp.Not:
        return _not(ev(node.this))
    if kind is exp.Neg:
        value = ev(node.this)
        return None if value is None else -value
    if kind is exp.Is:
        value, target = ev(node.this), ev(node.expression)
        return value is None if target is None else value is target
    if kind is exp.In:
        return _in(ev(node.this), [ev(option) for option in node.expressions])
    if kind is exp.Between:
        value = ev(node.this)
        return _and(
            _COMPARISONS[exp.GTE](value, ev(node.args["low"])),
            _COMPARISONS[exp.LTE](value, ev(node.args["high"])),
        )
    if kind in (exp.Like, exp.ILike):
        return _like(ev(node.this), ev(node.expression), ignore_case=kind is exp.ILike)
    if kind is exp.Coalesce:
        return next((v for v in (ev(node.this), *(ev(e) for e in node.expressions)) if v is not None), None)
    if kind is exp.Round:
        return _round(ev(node.this), ev(node.args["decimals"]) if node.args.get("decimals") else 0)
    if kind in _FUNCTIONS:
        return _FUNCTIONS[kind](ev(node.this))
    if kind is exp.Tuple:
        return [ev(e) for e in node.expressions]
    raise ValueError(f"the reference cannot evaluate {node.sql()!r} ({kind.__name__})")
