"""Server-rendered SVG bar charts: no chart library, no script, readable by screen readers.

Each chart is an `<svg role="img">` with a `<title>` and `<desc>` it is labelled by; the page
puts the same figures in a table beside it (the accessible and printable fallback). Colours
come from the stylesheet (classes), so a chart follows the page's contrast and print rules;
there are no inline styles, which the console's Content-Security-Policy forbids.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 240
PAD_LEFT = 44
PAD_BOTTOM = 40
PAD_TOP = 16


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    values: Sequence[int],
    label_every: int = 1,
) -> Markup:
    """A vertical bar chart of `values` over `labels` as inline SVG markup."""
    if len(labels) != len(values):
        raise ValueError("a chart needs one label per value")
    top = max(values, default=0)
    scale_max = _nice_ceiling(top)
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(values), 1)
    bar_w = min(max(slot * 0.7, 1.0), 56.0)  # one carrier must not be a wall of colour
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    for step in range(5):  # gridlines with their values, so a bar can be read off
        value = scale_max * step / 4
        y = PAD_TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_number(value)}</text>"
        )
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = 0.0 if scale_max == 0 else plot_h * value / scale_max
        x = PAD_LEFT + slot * index + (slot - bar_w) / 2
        y = PAD_TOP + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if value and bar_w >= 14:  # the value above its bar, where there is room for it
            parts.append(
                f'<text class="value" x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" '
                f'text-anchor="middle">{value}</text>'
            )
        if index % label_every == 0:
            cx = x + bar_w / 2
            parts.append(
                f'<text class="axis" x="{cx:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if top == 0:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2:.0f}" y="{PAD_TOP + plot_h / 2:.0f}" '
            'text-anchor="middle">No data in this period</text>'
        )
    parts.append("</svg>")
    # Every interpolated text above went through escape(); numbers are formatted floats.
    return Markup("".join(parts))  # noqa: S704


def _nice_ceiling(value: int) -> int:
    """The axis top: the value rounded up to 1, 2 or 5 times a power of ten (4 at least)."""
    if value <= 4:
        return 4
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
