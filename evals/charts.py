"""Small, dependency-free SVG charts for eval reports (grouped bars), viewable offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ["#2563eb", "#dc2626", "#9ca3af", "#16a34a", "#d97706", "#7c3aed", "#0891b2"]
POLICY_COLOURS = {
    "agent": "#2563eb",
    "static": "#dc2626",
    "escalate": "#9ca3af",
    "oracle": "#16a34a",
}


def colour(series: str, index: int) -> str:
    return POLICY_COLOURS.get(series, PALETTE[index % len(PALETTE)])


def grouped_bars(
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    percent: bool = False,
    unit: str = "",
    width: int = 860,
    height: int = 340,
) -> str:
    """An SVG grouped bar chart: one group per `groups` item, one bar per series in each."""
    left, right, top, bottom = 56, 16, 40, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    vmax = 1.0 if percent else max([*values, 0.0]) * 1.15 or 1.0
    vmin = min([*values, 0.0]) * 1.15

    def y_of(v: float) -> float:
        return top + plot_h * (vmax - v) / (vmax - vmin)

    n_series = max(1, len(series))
    group_w = plot_w / max(1, len(groups))
    bar_w = max(2.0, (group_w * 0.8) / n_series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="600">{escape(title)}</text>',
    ]
    for i in range(6):  # grid and axis labels
        v = vmin + (vmax - vmin) * i / 5
        y = y_of(v)
        label = f"{v:.0%}" if percent else f"{v:.1f}{unit}"
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for g, group in enumerate(groups):
        gx = left + g * group_w + group_w * 0.1
        for s, (name, vs) in enumerate(series.items()):
            value = vs[g] if g < len(vs) else None
            if value is None:
                continue
            v = value
            y0, y1 = sorted((y_of(0.0), y_of(min(max(v, vmin), vmax))))
            x, y, h = gx + s * bar_w, y0, y1 - y0
            label = f"{v:.1%}" if percent else f"{v:.2f}{unit}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{colour(name, s)}"><title>{escape(name)} / {escape(group)}: '
                f"{label}</title></rect>"
            )
        parts.append(
            f'<text x="{left + g * group_w + group_w / 2:.1f}" y="{top + plot_h + 18}" '
            f'text-anchor="middle">{escape(group)}</text>'
        )
    lx = left
    for s, name in enumerate(series):
        parts.append(
            f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{colour(name, s)}"/>'
        )
        parts.append(f'<text x="{lx + 16}" y="{height - 12}">{escape(name)}</text>')
        lx += 24 + 8 * len(name)
    parts.append("</svg>")
    return "\n".join(parts)
