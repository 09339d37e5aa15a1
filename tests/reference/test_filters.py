"""The reference's own evaluation of `where:` filters: SQL's three-valued logic and DuckDB's arithmetic (the
expected values were checked once against DuckDB by hand; these tests stay DuckDB-free)."""

from __future__ import annotations

from datetime import date

import pytest

from journey_compiler.reference.filters import passes, typed

ROW = {"value": 60.0, "sku": "SHOE", "city": None}

CASES = [
    ("value >= 50 AND sku LIKE 'S%'", True),
    ("sku LIKE 'S_E'", False),
    ("sku ILIKE 'sh%'", True),
    ("city = 'Berlin'", False),
    ("NOT city = 'Berlin'", False),  # NOT NULL is NULL: the row does not pass
    ("city IS NULL", True),
    ("city IS NOT NULL OR value > 1", True),
    ("sku IN ('a', NULL)", False),
    ("NOT sku IN ('a', NULL)", False),  # NULL in the list: unknown, not true
    ("sku IN ('SHOE', NULL)", True),
    ("value BETWEEN 60 AND 61", True),
    ("COALESCE(city, 'x') = 'x'", True),
    ("lower(sku) || '!' = 'shoe!'", True),
    ("round(value / 7, 2) = 8.57", True),
    ("value / 0 > 1e300", True),  # DuckDB: +inf
    ("(0 - value) % 7 = -4", True),  # the dividend's sign, not Python's
    ("abs(0 - value) = 60 AND length(sku) = 4 AND trim(' a ') = 'a'", True),
    ("-value < 0", True),
    ("round(2.5) = 3 AND round(0 - 2.5) = -3", True),  # half away from zero
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_filters_follow_sql_semantics(text, expected):
    assert passes(text, ROW) is expected


def test_declared_types_convert_like_try_cast():
    assert typed(150, "double") == 150.0
    assert typed("abc", "double") is None
    assert typed(150, "text") == "150"
    assert typed(True, "text") == "true"
    assert typed("true", "boolean") is True
    assert typed("2026-03-02", "date") == date(2026, 3, 2)
    assert typed(None, "bigint") is None
    assert typed(date(2026, 3, 2), "date") == date(2026, 3, 2)  # a detail row may hold a date as such
    assert passes("lifetime_value >= 100", {"lifetime_value": typed("150", "double")})
