"""Charts drawn on the server as SVG: no scripts, nothing fetched, fine under the strict CSP.

Each chart scales to its container (a viewBox, width 100%) so it reads at 375 px, and carries a title and
a description for screen readers; every chart's numbers are also on the page as a table, with a CSV.
Colours are presentation attributes (the CSP refuses inline styles) and differ in lightness as well as hue.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

PALETTE = ["#0b4f8a", "#e07b00", "#2a9d4b", "#b03a8c", "#6b6b6b", "#00a0b0", "#8c6d1f"]
WIDTH = 420
LEFT, RIGHT, TOP = 40, 8, 10
FONT = 12


def _svg(chart_id, title, desc, height, body):
    return format_html(
        '<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-t {id}-d" viewBox="0 0 {w} {h}" '
        'width="100%" preserveAspectRatio="xMinYMin meet"><title id="{id}-t">{title}</title>'
        '<desc id="{id}-d">{desc}</desc>{body}</svg>',
        id=chart_id,
        w=WIDTH,
        h=height,
        title=title,
        desc=desc,
        body=body,
    )


def _legend(series, y):
    """One row of swatches and labels per three series, from y down; returns (markup, height)."""
    parts, x, row = [], LEFT, 0
    for i, (_key, label) in enumerate(series):
        if i and i % 2 == 0:
            row, x = row + 1, LEFT
        yy = y + row * 18
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="12" height="12" fill="{}"></rect>'
                '<text x="{}" y="{}" font-size="{}" fill="#111">{}</text>',
                x,
                yy,
                PALETTE[i % len(PALETTE)],
                x + 16,
                yy + 11,
                FONT,
                label,
            )
        )
        x += 190
    return mark_safe("".join(parts)), (row + 1) * 18  # noqa: S308 (format_html parts)


def _axis(plot_h, top_value, unit=""):
    lines = []
    for i in range(5):
        value = top_value * i / 4
        y = TOP + plot_h - plot_h * i / 4
        lines.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ccc" stroke-width="1"></line>'
                '<text x="{}" y="{}" font-size="{}" fill="#444" text-anchor="end">{}{}</text>',
                LEFT,
                WIDTH - RIGHT,
                round(y, 1),
                round(y, 1),
                LEFT - 4,
                round(y + 4, 1),
                FONT,
                round(value) if top_value >= 4 or unit else round(value, 1),
                unit,
            )
        )
    return mark_safe("".join(lines))  # noqa: S308 (format_html parts)


def _x_labels(labels, slot, plot_h):
    every = max(1, -(-len(labels) // 6))  # at most six labels, so they never overlap
    return format_html_join(
        "",
        '<text x="{}" y="{}" font-size="{}" fill="#444" text-anchor="middle">{}</text>',
        (
            (round(LEFT + slot * (i + 0.5), 1), TOP + plot_h + 16, FONT, label)
            for i, label in enumerate(labels)
            if i % every == 0
        ),
    )


def stacked_bars(chart_id, title, desc, labels, series, values):
    """labels: x categories; series: [(key, label)]; values: [{key: count}] per category."""
    plot_h = 200
    totals = [sum(v.get(k, 0) for k, _ in series) for v in values] or [0]
    top = max(max(totals), 1)
    top = top if top <= 4 else -(-top // 4) * 4  # whole numbers on the axis
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar = min(slot * 0.7, 48)
    bars = []
    for i, v in enumerate(values):
        y = TOP + plot_h
        for j, (key, label) in enumerate(series):
            n = v.get(key, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                    round(LEFT + slot * i + (slot - bar) / 2, 1),
                    round(y, 1),
                    round(bar, 1),
                    round(h, 1),
                    PALETTE[j % len(PALETTE)],
                    labels[i],
                    label,
                    n,
                )
            )
    legend, legend_h = _legend(series, TOP + plot_h + 28)
    body = mark_safe(  # noqa: S308 (format_html parts)
        _axis(plot_h, top) + "".join(bars) + _x_labels(labels, slot, plot_h) + legend
    )
    return _svg(chart_id, title, desc, TOP + plot_h + 32 + legend_h, body)


def share_lines(chart_id, title, desc, labels, series, values):
    """Shares (0..1, or None where there is nothing to divide) per category, as lines with dots, 0-100 %."""
    plot_h = 160
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    parts = []
    for j, (key, label) in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        points = [
            (round(LEFT + slot * (i + 0.5), 1), round(TOP + plot_h - plot_h * v[key], 1), labels[i], v[key])
            for i, v in enumerate(values)
            if v.get(key) is not None
        ]
        if len(points) > 1:
            parts.append(
                format_html(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"></polyline>',
                    " ".join(f"{x},{y}" for x, y, _, _ in points),
                    colour,
                )
            )
        for x, y, at, share in points:
            parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="4" fill="{}"><title>{}: {} {}%</title></circle>',
                    x,
                    y,
                    colour,
                    at,
                    label,
                    round(share * 100),
                )
            )
    legend, legend_h = _legend(series, TOP + plot_h + 28)
    body = mark_safe(  # noqa: S308 (format_html parts)
        _axis(plot_h, 100, "%") + "".join(parts) + _x_labels(labels, slot, plot_h) + legend
    )
    return _svg(chart_id, title, desc, TOP + plot_h + 32 + legend_h, body)


def horizontal_bars(chart_id, title, desc, items, unit=""):
    """items: [(label, value or None)]; one bar per item, its value written beside it."""
    row_h, label_w = 26, 196
    top = max([v for _, v in items if v is not None] or [1]) or 1
    span = WIDTH - label_w - RIGHT - 56
    parts = []
    for i, (label, value) in enumerate(items):
        y = TOP + i * row_h
        width = round(span * (value or 0) / top, 1)
        parts.append(
            format_html(
                '<text x="0" y="{}" font-size="{}" fill="#111">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="18" fill="{}"></rect>'
                '<text x="{}" y="{}" font-size="{}" fill="#111">{}</text>',
                y + 14,
                FONT + 1,
                label,
                label_w,
                y + 1,
                width,
                PALETTE[0],
                label_w + width + 6,
                y + 14,
                FONT + 1,
                "—" if value is None else f"{value:g}{unit}",
            )
        )
    return _svg(chart_id, title, desc, TOP + len(items) * row_h + 8, mark_safe("".join(parts)))  # noqa: S308
