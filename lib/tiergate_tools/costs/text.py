"""The report as the terminal table `tiergate costs` prints.

Route costs are shown in dollars per million requests (a request costs millionths of a
dollar); tier figures in dollars per customer and month.
"""

from __future__ import annotations

from typing import Any

__all__ = ["money", "per_million", "ratio", "render_text", "tier_rows"]


def per_million(usd_per_request: float) -> str:
    """Dollars per request, shown per million requests: 0.0000021 -> "2.1000"."""
    return f"{usd_per_request * 1e6:.4f}"


def money(usd: float) -> str:
    """Dollars with cents; under a dollar with four decimals, so that a small cost still shows."""
    sign = "-" if usd < 0 else ""
    digits = 4 if 0 < abs(usd) < 1 else 2
    return f"{sign}${abs(usd):,.{digits}f}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def render_text(report: dict[str, Any]) -> str:
    lines: list[str] = []
    deployment, prices = report["deployment"], report["prices"]
    lines.append(
        f"platform {deployment['platform']}, {deployment['memory_mb']} MB;"
        f" warm instances {deployment['provisioned']}"
        f" ({money(deployment['provisioned_month'])}/month); from {deployment['source']}"
    )
    lines.append(f"prices as of {prices['as_of']} ({prices['origin']})")
    lines.append("")
    names = _part_names(report["routes"])
    header = ["route", "requests", *names, "total"]
    rows = [
        [
            route + (" (warm)" if figures["warm"] else ""),
            f"{figures['requests']:,}",
            *(
                per_million(figures["parts"][n]["usd"]) if n in figures["parts"] else "-"
                for n in names
            ),
            per_million(figures["cost"]),
        ]
        for route, figures in report["routes"].items()
    ]
    lines.append("cost per route, $ per 1M requests:")
    lines.extend(_table(header, rows))
    lines.append("")
    header = [
        "tier", "price", "requests/mo", "usage", "warm share", "fees", "cost", "margin",
        "price/cost", "3x rule",
    ]  # fmt: skip
    rows = [
        [label, money(r["price"]), f"{r['requests']:,}", money(r["usage"]),
         money(r["provisioned"]), money(r["fees"]), money(r["cost"]), money(r["margin"]),
         ratio(r["ratio"]), verdict(r)]
        for label, r in tier_rows(report)
    ]  # fmt: skip
    lines.append("cost per customer and month at full quota:")
    lines.extend(_table(header, rows))
    for name, t in report["tiers"].items():
        mix = ", ".join(f"{route} {m['share']:.0%}" for route, m in t["mix"].items())
        lines.append(
            f"  {name}: {t['customers']} customer(s); mix ({t['mix_basis']}): {mix or '-'};"
            f" {per_million(t['cost_per_request'])} $ per 1M requests"
        )
    lines.append("")
    lines.extend(report["free"])
    for warning in report["warnings"]:
        lines.append(f"warning: {warning}")
    if not report["warnings"]:
        paid = "every paid tier" if report["free"] else "every tier"
        lines.append(f"{paid} is priced at {report['markup']:g}x its cost or more")
    return "\n".join(lines)


def verdict(r: dict[str, Any]) -> str:
    """The 3x rule's column: ok, UNDER, or free (not held to it)."""
    return "free" if r.get("free") else "ok" if r["passes"] else "UNDER"


def tier_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A row per tier at full quota, and one more at the overage cap for a tier with overage."""
    rows = []
    for name, t in report["tiers"].items():
        rows.append((name, {**t, "requests": t["limit"]}))
        o = t["overage"]
        if o is not None:
            at_cap = o["revenue"] / o["cost"] if o["cost"] > 0 else None
            rows.append(
                (f"{name} at overage cap", {**t, **o, "price": o["revenue"], "ratio": at_cap})
            )
    return rows


def _part_names(routes: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for figures in routes.values():
        for name, part in figures["parts"].items():
            if name not in names and (part["usd"] or name in ("compute", "cpu", "memory")):
                names.append(name)
    return names


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(header), *(line(r) for r in rows)]
