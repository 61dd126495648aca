"""The report as terminal text, as JSON, and as one self-contained HTML page."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from core.journeys.tables import Arm
from core.reporting.charts import HOLDOUT, horizontal_bars, vertical_bars
from core.reporting.query import Report
from core.timeparse import show_instant

COLUMNS = ("fired", "sent", "suppressed", "failed", "pending", "converted")


def _cells(row: Any) -> list[int]:
    return [row.fired, row.sent, row.suppressed_total, row.failed, row.pending, row.converted]


def render_text(report: Report, zone: ZoneInfo) -> str:
    head = (
        f"{show_instant(report.since, zone)} – {show_instant(report.until, zone)}; "
        f"converted = a purchase within {report.conversion_days} days of a sent message"
    )
    width = max([len(r.rule_id) for r in report.rows] + [4])
    lines = [head, "", f"{'rule':<{width}}  {'channel':<8}" + "".join(f"{c:>11}" for c in COLUMNS)]
    for row in report.rows:
        lines.append(
            f"{row.rule_id:<{width}}  {row.channel or '-':<8}"
            + "".join(f"{v:>11}" for v in _cells(row))
        )
    if report.reasons:
        lines += ["", "suppressed, by reason"]
        lines += [f"  {n:>7}  {reason}" for reason, n in report.reasons.most_common()]
    if report.journeys:
        lines += ["", "journeys (enrolled / converted, treatment vs holdout)"]
        for j in report.journeys:
            t, h = j.arms[Arm.TREATMENT.value], j.arms[Arm.HOLDOUT.value]
            lines.append(
                f"  {j.journey_id}: treatment {t.enrolled} / {t.converted}, "
                f"holdout {h.enrolled} / {h.converted}"
            )
    if not report.rows:
        lines.append("(nothing in the ledger for this period)")
    return "\n".join(lines)


def as_document(report: Report) -> dict[str, Any]:
    return {
        "since": report.since,
        "until": report.until,
        "conversion_days": report.conversion_days,
        "rules": [
            {
                "rule": r.rule_id,
                "channel": r.channel,
                **dict(zip(COLUMNS, _cells(r), strict=True)),
                "suppressed_by_reason": dict(r.suppressed),
            }
            for r in report.rows
        ],
        "sends_per_day": report.sends_per_day,
        "suppressed_by_reason": dict(report.reasons),
        "journeys": [
            {
                "journey": j.journey_id,
                **{
                    arm: {"enrolled": a.enrolled, "converted": a.converted}
                    for arm, a in j.arms.items()
                },
            }
            for j in report.journeys
        ],
    }


def render_json(report: Report) -> str:
    return json.dumps(as_document(report), ensure_ascii=False, indent=2)


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:960px;color:#1f2933;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #d9dee5}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .5rem;border-bottom:1px solid #eef1f4}
th{text-align:left;background:#f5f7fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#616e7c}svg.chart{max-width:100%;height:auto}
"""

# Runs in the browser only to confirm the page is whole; the report needs no script.
CHECK = (
    "<script>document.addEventListener('DOMContentLoaded',function(){"
    "var n=document.querySelectorAll('svg.chart').length;"
    "document.body.setAttribute('data-charts',String(n));});</script>"
)


def render_html(report: Report, zone: ZoneInfo, title: str = "patron report") -> str:
    period = f"{show_instant(report.since, zone)} – {show_instant(report.until, zone)}"
    rows = "".join(
        "<tr><td>"
        + escape(r.rule_id)
        + "</td><td>"
        + escape(r.channel or "-")
        + "</td>"
        + "".join(f'<td class="n">{v}</td>' for v in _cells(r))
        + "</tr>"
        for r in report.rows
    )
    header = "".join(f"<th>{c}</th>" for c in ("rule", "channel", *COLUMNS))
    sends = vertical_bars("Messages sent per day", list(report.sends_per_day.items()))
    reasons = horizontal_bars("Suppressed, by reason", report.reasons.most_common(12))
    funnels = []
    for j in report.journeys:
        t, h = j.arms[Arm.TREATMENT.value], j.arms[Arm.HOLDOUT.value]
        funnels.append(f"<h3>{escape(j.journey_id)}</h3>")
        funnels.append(
            horizontal_bars(
                f"Journey {j.journey_id}: enrolled and converted",
                [
                    ("treatment: enrolled", t.enrolled),
                    ("treatment: converted", t.converted),
                    ("holdout: enrolled", h.enrolled),
                    ("holdout: converted", h.converted),
                ],
                colors=("#3b6ea5", "#3b6ea5", HOLDOUT, HOLDOUT),
            )
        )
    journeys = "".join(funnels) or '<p class="muted">No journey enrollments in this period.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style>{CHECK}</head><body>"
        f'<h1>{escape(title)}</h1><p class="muted">{escape(period)}. Converted: a purchase '
        f"within {report.conversion_days} days after a sent message.</p>"
        f"<h2>Messages sent per day</h2>{sends}"
        f"<h2>Suppressed, by reason</h2>{reasons}"
        f"<h2>Journey funnels</h2>{journeys}"
        f"<h2>Per rule and channel</h2><table><thead><tr>{header}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        "</body></html>\n"
    )
