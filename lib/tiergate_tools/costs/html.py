"""The report as one self-contained HTML page (`tiergate costs --html FILE`): inline CSS, an
inline SVG chart of cost against price per tier, a table per route. No script, no CDN: it
opens from a file, offline, and can be mailed as it is.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .text import money, per_million, ratio, tier_rows, verdict

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2330}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
table{border-collapse:collapse;margin:.4rem 0}
td,th{padding:.2rem .6rem;border-bottom:1px solid #dde;white-space:nowrap}
th{text-align:left;background:#f3f4f8}.n{text-align:right;font-variant-numeric:tabular-nums}
.under{color:#b3261e;font-weight:600}.ok{color:#17693a}.muted{color:#667}
ul.warn li{color:#b3261e}svg text{font:12px system-ui,sans-serif}
"""
_COST, _PRICE, _RULE = "#d9822b", "#2f6fdb", "#b3261e"


def render_html(report: dict[str, Any]) -> str:
    d, p = report["deployment"], report["prices"]
    body = [
        "<h1>tiergate: cost per request and margin per tier</h1>",
        f"<p class=muted>platform {escape(d['platform'])}, {d['memory_mb']} MB; warm instances"
        f" {d['provisioned']} ({money(d['provisioned_month'])}/month), from"
        f" {escape(d['source'])}. Prices as of {escape(p['as_of'])} ({escape(p['origin'])}).</p>",
        _warnings(report),
        "<h2>Cost against price, per customer and month at full quota</h2>",
        _chart(report),
        _tiers(report),
        "<h2>Routes: cost per request, part by part</h2>",
        *(_route(route, figures) for route, figures in report["routes"].items()),
        "<h2>Price list</h2>",
        _price_list(p),
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>tiergate costs</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _warnings(report: dict[str, Any]) -> str:
    free = "".join(f"<p class=muted>{escape(line)}</p>" for line in report["free"])
    if not report["warnings"]:
        paid = "Every paid tier" if report["free"] else "Every tier"
        return f"{free}<p class=ok>{paid} is priced at {report['markup']:g}x its cost or more.</p>"
    items = "".join(f"<li>{escape(w)}</li>" for w in report["warnings"])
    return f"{free}<ul class=warn>{items}</ul>"


def _chart(report: dict[str, Any]) -> str:
    tiers = report["tiers"]
    markup = report["markup"]
    top = max([1.0, *(max(t["price"], markup * t["cost"]) for t in tiers.values())])
    group, bar, height, left, plot = 150, 44, 220, 60, 190
    width = left + group * len(tiers) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height + 50}"'
        f' viewBox="0 0 {width} {height + 50}" aria-label="cost against price per tier">',
        f'<line x1="{left}" y1="{height}" x2="{width - 10}" y2="{height}" stroke="#99a"/>',
    ]
    for i, (name, t) in enumerate(tiers.items()):
        x = left + i * group + 10
        for offset, value, colour, label in (
            (0, t["cost"], _COST, "cost"),
            (bar + 6, t["price"], _PRICE, "price"),
        ):
            h = plot * value / top
            parts.append(
                f'<rect x="{x + offset}" y="{height - h:.1f}" width="{bar}" height="{h:.1f}"'
                f' fill="{colour}"><title>{escape(name)} {label} {money(value)}</title></rect>'
                f'<text x="{x + offset + bar / 2}" y="{height - h - 4:.1f}"'
                f' text-anchor="middle">{money(value)}</text>'
            )
        rule = height - plot * markup * t["cost"] / top
        parts.append(
            f'<line x1="{x - 4}" x2="{x + 2 * bar + 10}" y1="{rule:.1f}" y2="{rule:.1f}"'
            f' stroke="{_RULE}" stroke-dasharray="4 3"><title>{markup:g}x cost</title></line>'
            f'<text x="{x + bar + 3}" y="{height + 18}" text-anchor="middle">{escape(name)}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{height + 30}" width="12" height="12" fill="{_COST}"/>'
        f'<text x="{left + 16}" y="{height + 40}">cost at full quota</text>'
        f'<rect x="{left + 140}" y="{height + 30}" width="12" height="12" fill="{_PRICE}"/>'
        f'<text x="{left + 156}" y="{height + 40}">price</text>'
        f'<line x1="{left + 210}" x2="{left + 236}" y1="{height + 36}" y2="{height + 36}"'
        f' stroke="{_RULE}" stroke-dasharray="4 3"/>'
        f'<text x="{left + 240}" y="{height + 40}">{markup:g}x cost (the least price)</text>'
        "</svg>"
    )
    return "".join(parts)


def _tiers(report: dict[str, Any]) -> str:
    head = (
        "<tr><th>tier</th><th>price</th><th>requests/month</th><th>customers</th><th>usage</th>"
        "<th>warm share</th><th>fees</th><th>cost</th><th>margin</th><th>price/cost</th>"
        "<th>3x rule</th><th>lowest price that passes</th></tr>"
    )
    rows = "".join(_tier_row(label, r) for label, r in tier_rows(report))
    mixes = "".join(
        f"<li>{escape(name)}: mix {escape(t['mix_basis'])}: "
        + ", ".join(f"{escape(r)} {m['share']:.0%}" for r, m in t["mix"].items())
        + f"; {per_million(t['cost_per_request'])} $ per 1M requests</li>"
        for name, t in report["tiers"].items()
    )
    return f"<table>{head}{rows}</table><ul class=muted>{mixes}</ul>"


def _tier_row(label: str, r: dict[str, Any]) -> str:
    word = verdict(r)
    verdict_cell = f"<td class={'under' if word == 'UNDER' else 'ok'}>{word}</td>"
    cells = [money(r["price"]), f"{r['requests']:,}", f"{r['customers']:,}", money(r["usage"]),
             money(r["provisioned"]), money(r["fees"]), money(r["cost"]), money(r["margin"]),
             ratio(r["ratio"])]  # fmt: skip
    numbers = "".join(f"<td class=n>{c}</td>" for c in cells)
    return (
        f"<tr><td>{escape(label)}</td>{numbers}{verdict_cell}"
        f"<td class=n>{money(r['lowest_price'])}</td></tr>"
    )


def _route(route: str, figures: dict[str, Any]) -> str:
    head = (
        "<tr><th>part</th><th>quantity per request</th><th>unit</th><th>price entry</th>"
        "<th>$ per unit</th><th>$ per 1M requests</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class=n>{part['quantity']:.6g}</td>"
        f"<td>{escape(part['unit'])}</td><td>{escape(part['price'])}</td>"
        f"<td class=n>{part['unit_price']:.6g}</td><td class=n>{per_million(part['usd'])}</td></tr>"
        for name, part in figures["parts"].items()
    )
    total = f"<tr><th colspan=5>total</th><th class=n>{per_million(figures['cost'])}</th></tr>"
    warm = " (warm instances)" if figures["warm"] else ""
    return (
        f"<h3>{escape(route)}{warm}</h3><p class=muted>{figures['requests']:,} requests"
        f" measured</p><table>{head}{rows}{total}</table>"
    )


def _price_list(prices: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class=n>{p['value']:.6g}</td><td>{escape(p['unit'])}</td>"
        f"<td>{escape(p['date'])}</td><td>{escape(p['source'])}</td></tr>"
        for name, p in prices["list"].items()
    )
    head = "<tr><th>price</th><th>value</th><th>per</th><th>read on</th><th>source</th></tr>"
    return f"<table>{head}{rows}</table>"
