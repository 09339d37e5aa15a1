"""dbt relations inside sqlglot ASTs, and literals that dbt's Jinja leaves alone.

A journey's SQL is built as an AST but runs as a dbt model, which dbt renders with Jinja first. Relations are
therefore AST nodes whose name renders as `{{ ref('model') }}` (no text substitution after rendering, which
could also hit a literal), and every string literal has its braces escaped as `{{ "{" }}`, so a value from
config reaches the warehouse exactly as written and can never run as Jinja.
"""

from __future__ import annotations

from sqlglot import exp


def _jinja_table(text: str) -> exp.Table:
    return exp.Table(this=exp.Var(this=text))


def ref(model: str) -> exp.Table:
    """`{{ ref('model') }}`; model names are ours (identifiers), never config text."""
    assert model.replace("_", "").isalnum(), model
    return _jinja_table("{{ ref('" + model + "') }}")


def source(source_name: str, table: str) -> exp.Table:
    """`{{ source('name', 'table') }}`; both are validated identifiers."""
    assert source_name.replace("_", "").isalnum() and table.replace("_", "").isalnum(), (source_name, table)
    return _jinja_table("{{ source('" + source_name + "', '" + table + "') }}")


HISTORY = _jinja_table("{{ history }}")
"""The journey's own history: `{{ this }}` once it exists, else the typed empty history."""
OPEN_PATHS = _jinja_table("{{ open_paths }}")
"""The journey's open paths as each tick left them (`<model>__open`), else the typed empty snapshot."""
PREVIOUS_OPEN = _jinja_table("{{ previous_open }}")
"""Inside the snapshot model itself: `{{ this }}` once it exists, else the typed empty snapshot."""


def history() -> exp.Table:
    return HISTORY.copy()


def open_paths() -> exp.Table:
    return OPEN_PATHS.copy()


def inert_literals(node: exp.Expression) -> exp.Expression:
    """Transform rule: escape `{` and `}` in string literals so Jinja renders them back verbatim."""
    if isinstance(node, exp.Literal) and node.is_string and ("{" in node.this or "}" in node.this):
        escaped = "".join('{{ "' + ch + '" }}' if ch in "{}" else ch for ch in node.this)
        return exp.Literal.string(escaped)
    return node


def previous_open() -> exp.Table:
    return PREVIOUS_OPEN.copy()
