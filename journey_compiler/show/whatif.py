"""`journeys tick --what-if` as terminal tables (rich): one backtest, or two side by side (live, changed)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from journey_compiler.runtime.whatif import NodeCount, WhatIfReport


def _shares(node: NodeCount | None) -> str:
    if node is None or not node.branches:
        return ""
    total = sum(node.branches.values())
    return ", ".join(f"{b} {n:,} ({n / total:.0%})" for b, n in sorted(node.branches.items()))


def node_table(reports: list[WhatIfReport]) -> Table:
    """Per journey and node: entries, arrivals and how the paths left, for each report."""
    table = Table(
        title="what-if: per node", title_justify="left", caption=_caption(reports), caption_justify="left"
    )
    table.add_column("journey")
    table.add_column("node")
    for report in reports:
        suffix = f" ({escape(report.label)})" if len(reports) > 1 else ""
        table.add_column(f"entries{suffix}", justify="right")
        table.add_column(f"arrivals{suffix}", justify="right")
        table.add_column(f"left by{suffix}")
    by_report = [{(n.journey_id, n.node_id): n for n in r.nodes} for r in reports]
    for key in sorted({k for nodes in by_report for k in nodes}):
        cells = []
        for nodes in by_report:
            node = nodes.get(key)
            counts = [f"{node.entries:,}", f"{node.arrivals:,}"] if node else ["-", "-"]
            cells += [*counts, _shares(node)]
        table.add_row(escape(key[0]), escape(key[1]), *cells)
    return table


def message_table(reports: list[WhatIfReport]) -> Table:
    """Messages per journey, channel and day (sent by the simulated dispatch, suppressed by the tick or by
    the outbox's rules), for each report."""
    table = Table(title="what-if: messages per channel and day", title_justify="left")
    for name in ("journey", "channel", "day"):
        table.add_column(name)
    for report in reports:
        suffix = f" ({escape(report.label)})" if len(reports) > 1 else ""
        for name in ("messages", "sent", "suppressed"):
            table.add_column(f"{name}{suffix}", justify="right")
    by_report = [{(m.journey_id, m.channel, m.day): m for m in r.messages} for r in reports]
    for key in sorted({k for rows in by_report for k in rows}):
        cells = []
        for rows in by_report:
            row = rows.get(key)
            counts = (row.messages, row.sent, row.suppressed) if row else None
            cells += [f"{n:,}" for n in counts] if counts else ["-"] * 3
        table.add_row(escape(key[0]), escape(key[1]), f"{key[2]:%Y-%m-%d}", *cells)
    return table


def _caption(reports: list[WhatIfReport]) -> str:
    parts = []
    for report in reports:
        why = ", ".join(f"{j} {r} {n:,}" for (j, r), n in sorted(report.suppressions.items())) or "none"
        parts.append(f"{report.label}: {report.ticks} ticks on a scratch copy; suppressed by reason: {why}")
    return escape("; ".join(parts) + ". Nothing live changed and no provider was called.")
