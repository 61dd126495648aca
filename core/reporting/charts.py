"""Bar charts as inline SVG strings: no script, no network, every label escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

BAR = "#3b6ea5"
HOLDOUT = "#b0b7c3"


def vertical_bars(title: str, points: Sequence[tuple[str, int]], *, width: int = 720) -> str:
    """Columns for a series over time (e.g. sends per day); labels on the first and last."""
    height, top, bottom = 220, 24, 36
    peak = max((v for _, v in points), default=0) or 1
    step = width / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        h = (height - top - bottom) * value / peak
        x, y = i * step + 1, height - bottom - h
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{escape(label)}: {value}</title></rect>'
        )
    axis = ""
    if points:
        axis = (
            f'<text x="0" y="{height - 12}" font-size="12">{escape(points[0][0])}</text>'
            f'<text x="{width}" y="{height - 12}" font-size="12" text-anchor="end">'
            f"{escape(points[-1][0])}</text>"
        )
    return _svg(title, width, height, "".join(bars) + axis + _peak(peak))


def horizontal_bars(
    title: str, items: Sequence[tuple[str, int]], *, width: int = 720, colors: Sequence[str] = ()
) -> str:
    """One labelled bar per item (e.g. suppression reasons), largest value full width."""
    row, label_width = 26, 300
    height = max(len(items), 1) * row + 10
    peak = max((v for _, v in items), default=0) or 1
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * row + 5
        w = (width - label_width - 60) * value / peak
        color = colors[i] if i < len(colors) else BAR
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 16}" font-size="12" text-anchor="end">'
            f"{escape(label[:48])}</text>"
            f'<rect class="bar" x="{label_width}" y="{y}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{color}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{label_width + w + 6:.1f}" y="{y + 16}" font-size="12">{value}</text>'
        )
    return _svg(title, width, height, "".join(parts))


def _peak(peak: int) -> str:
    return f'<text x="0" y="14" font-size="12">max {peak}</text>'


def _svg(title: str, width: int, height: int, body: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )
