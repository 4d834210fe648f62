"""Plain-text tables and the findings that feed the closing summary."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Finding", "Outcome", "Table", "fmt_bytes", "fmt_int", "render"]

COLUMNS = ("metric", "tiergate", "baseline", "target")


@dataclass
class Table:
    title: str
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    columns: tuple[str, ...] = COLUMNS

    def add(self, *cells: object) -> None:
        self.rows.append(tuple(str(c) for c in cells))


@dataclass(frozen=True)
class Finding:
    """One line of the summary: a headline number next to its baseline and target."""

    metric: str
    tiergate: str
    baseline: str
    target: str
    met: bool | None  # None: nothing to meet (context only)


@dataclass
class Outcome:
    tables: list[Table] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def render(table: Table) -> str:
    widths = [len(c) for c in table.columns]
    for row in table.rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        # The metric reads left to right; numbers line up on the right.
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True)]
        return " | ".join([first, *rest]).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    out = [table.title, "=" * len(table.title), line(table.columns), rule]
    out += [line(row) for row in table.rows]
    out += [f"  note: {note}" for note in table.notes]
    return "\n".join(out)


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def fmt_bytes(n: float) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):,.1f} MiB"
    if n >= 10 * 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n:,.0f} B"
