"""`journeys estimate` as terminal tables (rich)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from journey_compiler.estimate.run import NodeEstimate, Seen, SegmentEstimate


def _as_of(seen: Seen) -> str:
    loaded = f", events loaded by {seen.watermark:%Y-%m-%d %H:%M:%S}" if seen.watermark else ""
    return f"at {seen.at:%Y-%m-%d %H:%M:%S} (the last tick ran at {seen.tick_at:%Y-%m-%d %H:%M:%S}{loaded})"


def segment_table(estimate: SegmentEstimate) -> Table:
    as_of = _as_of(estimate.seen)
    table = Table(
        title=f"segment {estimate.segment_id}",
        caption=as_of,
        title_justify="left",
        caption_justify="left",
        min_width=len(as_of),  # one line, not wrapped to the four narrow columns
    )
    for name in ("segment", "profiles", "of all", "share"):
        table.add_column(name, justify="left" if name == "segment" else "right")
    share = estimate.members / estimate.profiles if estimate.profiles else 0.0
    table.add_row(estimate.segment_id, f"{estimate.members:,}", f"{estimate.profiles:,}", f"{share:.1%}")
    return table


def node_table(estimate: NodeEstimate) -> Table:
    table = Table(
        title=f"{estimate.journey_id} → {estimate.node_id}: joint audience {_as_of(estimate.seen)}",
        caption=_caption(estimate),
        title_justify="left",
        caption_justify="left",
    )
    for name in ("path", "branch", "profiles", "share", "expected", "not judged (profiles are at most)"):
        table.add_column(name, justify="right" if name in ("profiles", "share", "expected") else "left")
    for way in estimate.ways:
        table.add_row(
            escape(" → ".join(map(str, way.way.path)) or "(start)"),
            way.way.own_branch or "arrive",
            f"{way.profiles:,}",
            f"{way.way.share:.1%}",
            f"{way.expected:,.1f}",
            escape("; ".join(way.way.unjudged)),
        )
    for branch, expected in estimate.totals().items():
        table.add_row("total", branch or "arrive", "", "", f"{expected:,.1f}", "", style="bold")
    return table


def _caption(estimate: NodeEstimate) -> str:
    caption = f"audience: {estimate.audience:,} profiles pass the entry's audience and trigger"
    if estimate.entry_unjudged:
        caption += f"; {estimate.entry_unjudged}"
    return escape(caption + "; expected = profiles × the A/B shares on the path")
