"""Charts as inline SVG, drawn here: the report is one self-contained file that opens with no
network and no script library (Altair and Plotly both need a JavaScript bundle or a renderer
package to show a chart offline; these few chart types need neither).

Every drawn mark has class `mark`; a suppressed value is drawn as a hatched mark of class
`mark hidden` with the words "fewer than k"; the report's check counts them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

Number = float | int | None
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
INK, MUTED, ACCENT = "#1f2933", "#7b8794", "#2f6fb0"
DEFS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f1f3f5"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#c5ccd3" stroke-width="2"/></pattern></defs>'
)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.1f}"


def percent(value: float) -> str:
    return f"{value:.0%}"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px;{FONT}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{DEFS}{''.join(body)}</svg>"
    )


def ramp(share: float) -> str:
    """A light-to-dark blue for a share between 0 and 1."""
    share = max(0.0, min(1.0, share))
    low, high = (238, 244, 251), (8, 81, 156)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def bars(
    items: Sequence[tuple[str, Number]],
    *,
    label: str,
    k: int,
    fmt: Callable[[float], str] = _number,
    max_value: float | None = None,
    width: int = 680,
) -> str:
    """Horizontal bars, one per category, value at the end; suppressed values hatched."""
    left, right, row = 200, 80, 28
    height = row * len(items) + 10
    top = max((v for _, v in items if v is not None), default=0) or 1
    top = max_value or top
    area = width - left - right
    body = []
    for i, (name, value) in enumerate(items):
        y = 5 + i * row
        body.append(
            f'<text x="{left - 8}" y="{y + 18}" text-anchor="end" font-size="13" fill="{INK}">'
            f"{escape(str(name))}</text>"
        )
        if value is None:
            body.append(
                f'<rect class="mark hidden" x="{left}" y="{y + 4}" width="{area * 0.25:.1f}" '
                f'height="{row - 8}" '
                f'fill="url(#hatch)" stroke="#c5ccd3"/><text x="{left + area * 0.25 + 6:.1f}" y="{y + 18}" '
                f'font-size="12" fill="{MUTED}">fewer than {k} people: not shown</text>'
            )
            continue
        length = max(1.5, area * float(value) / top)
        body.append(
            f'<rect class="mark" x="{left}" y="{y + 4}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{ACCENT}" rx="2"><title>{escape(str(name))}: {fmt(float(value))}</title></rect>'
            f'<text x="{left + length + 6:.1f}" y="{y + 18}" font-size="12" fill="{INK}">'
            f"{fmt(float(value))}</text>"
        )
    return _svg(width, height, label, body)


def columns(
    items: Sequence[tuple[str, Number]], *, label: str, k: int, fmt: Callable[[float], str] = _number
) -> str:
    """Vertical bars over an ordered axis (weeks, months); every few labels shown."""
    width, height, bottom, top_pad, left = 680, 240, 40, 20, 50
    top = max((v for _, v in items if v is not None), default=0) or 1
    slot = (width - left - 10) / max(1, len(items))
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        'stroke="#c5ccd3"/>',
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" font-size="11" fill="{MUTED}">'
        f"{fmt(float(top))}</text>",
    ]
    every = max(1, len(items) // 8)
    for i, (name, value) in enumerate(items):
        x = left + i * slot + slot * 0.15
        w = slot * 0.7
        if value is None:
            h = (height - bottom - top_pad) * 0.15
            body.append(
                f'<rect class="mark hidden" x="{x:.1f}" y="{height - bottom - h:.1f}" width="{w:.1f}" '
                f'height="{h:.1f}" fill="url(#hatch)"><title>{escape(name)}: fewer than {k}</title></rect>'
            )
        else:
            h = max(1.0, (height - bottom - top_pad) * float(value) / top)
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{height - bottom - h:.1f}" width="{w:.1f}" '
                f'height="{h:.1f}" fill="{ACCENT}"><title>{escape(name)}: {fmt(float(value))}</title></rect>'
            )
        if i % every == 0:
            body.append(
                f'<text x="{x + w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="11" '
                f'fill="{MUTED}">{escape(name)}</text>'
            )
    return _svg(width, height, label, body)


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: dict[tuple[str, str], Number],
    *,
    label: str,
    k: int,
    fmt: Callable[[float], str] = _number,
    show_values: bool = True,
) -> str:
    """A grid of shaded cells (rows x columns); suppressed cells hatched."""
    left, top_pad = 170, 30
    cell_w = max(18, min(56, (700 - left) // max(1, len(col_labels))))
    cell_h = 26
    width = max(left + cell_w * len(col_labels) + 10, left + 420)  # room for the legend line
    height = top_pad + cell_h * len(row_labels) + 30
    top = max((v for v in values.values() if v is not None), default=0) or 1
    body = []
    for j, col in enumerate(col_labels):
        body.append(
            f'<text x="{left + j * cell_w + cell_w / 2:.1f}" y="{top_pad - 10}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{escape(col)}</text>'
        )
    for i, row in enumerate(row_labels):
        y = top_pad + i * cell_h
        body.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" font-size="12" fill="{INK}">'
            f"{escape(row)}</text>"
        )
        for j, col in enumerate(col_labels):
            x = left + j * cell_w
            value = values.get((row, col))
            if value is None:
                fill, css, tip = "url(#hatch)", "mark hidden", f"fewer than {k} people"
            else:
                fill, css, tip = ramp(float(value) / top), "mark", fmt(float(value))
            body.append(
                f'<rect class="{css}" x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'fill="{fill}">'
                f"<title>{escape(row)} · {escape(col)}: {tip}</title></rect>"
            )
            if value is not None and show_values and cell_w >= 34:
                ink = "#ffffff" if float(value) / top > 0.55 else INK
                body.append(
                    f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + 17}" text-anchor="middle" font-size="10" '
                    f'fill="{ink}">{fmt(float(value))}</text>'
                )
    legend = f"darker = more; hatched = fewer than {k} people, not shown" if k > 0 else "darker = more"
    body.append(f'<text x="{left}" y="{height - 8}" font-size="11" fill="{MUTED}">{legend}</text>')
    return _svg(width, height, label, body)
