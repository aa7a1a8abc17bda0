"""Bar charts as inline SVG, drawn on the server: no script, no external
file, styled by admin.css classes. Each chart is an image with a text
title and summary for screen readers (the numbers are also in a table)."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 56, 22, 8  # room for the axis labels


def bar_chart(
    chart_id: str, title: str, values: list[int], labels: tuple[str, str], format_value=str, *, totals: bool = True
) -> str:
    """Bars for `values` (oldest first), the highest labelled on the axis;
    `labels`: what the first and the last bar stand for. `totals`: the
    summary gives the sum (counts per hour), else the latest value (sizes)."""
    top = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        h = plot_h * value / top
        if value:
            bars.append(
                f'<rect class="bar" x="{LEFT + i * step:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{max(step - 1, 0.5):.1f}" height="{h:.1f}"/>'
            )
    overall = f"total {format_value(sum(values))}" if totals else f"latest {format_value(values[-1] if values else 0)}"
    summary = f"{title}: highest {format_value(max(values, default=0))}, {overall}, from {labels[0]} to {labels[1]}"
    return f"""<figure>
<svg id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-title">
<title id="{chart_id}-title">{escape(summary)}</title>
<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH}" y2="{TOP + plot_h}"/>
<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>
<text class="label" x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end">{escape(format_value(max(values, default=0)))}</text>
<text class="label" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>
<text class="label" x="{LEFT}" y="{HEIGHT - 4}">{escape(labels[0])}</text>
<text class="label" x="{WIDTH}" y="{HEIGHT - 4}" text-anchor="end">{escape(labels[1])}</text>
{"".join(bars)}
</svg>
<figcaption>{escape(title)} ({escape(overall)})</figcaption>
</figure>"""
