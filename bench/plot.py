#!/usr/bin/env python3
"""Plot p99 latency against offered load from `qc-bench sweep` results.

Reads header-less CSV lines `label,offered,delivered_per_s,p50_ms,p99_ms,max_ms,lost`
(several labels, e.g. "before" and "after") and writes an SVG line chart:
p99 latency in ms on a log y axis against offered load in texts/s on a log
x axis (1k to 50k, wider if the data is), one line per label. Repeated runs
of one label at one load are plotted as their median. A hollow marker means
that some texts of that run were not delivered within the drain.

No dependencies beyond the Python 3 standard library.

Usage: python3 bench/plot.py [bench/results.csv] [docs/bench-p99.svg]
"""

import csv
import math
import os
import statistics
import sys
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 480
LEFT, RIGHT, TOP, BOTTOM = 80, 190, 50, 70
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def read(path):
    """{label: {offered: [(p99_ms, lost), ...]}}, labels in order of appearance."""
    runs = {}
    with open(path, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row or row[0].startswith("#") or row[0] == "label":
                continue
            if len(row) < 7:
                print(f"{path}:{lineno}: skipped, expected 7 fields: {row}", file=sys.stderr)
                continue
            try:
                offered, p99, lost = float(row[1]), float(row[4]), int(float(row[6]))
            except ValueError:
                print(f"{path}:{lineno}: skipped, not numbers: {row}", file=sys.stderr)
                continue
            runs.setdefault(row[0], {}).setdefault(offered, []).append((p99, lost))
    return runs


def series(runs):
    """[(label, [(offered, median p99, any lost)])], points sorted by load."""
    out = []
    for label, by_load in runs.items():
        points = []
        for offered in sorted(by_load):
            values = by_load[offered]
            p99 = statistics.median(v for v, _ in values)
            points.append((offered, p99, any(lost > 0 for _, lost in values)))
        out.append((label, points))
    return out


def decade_ticks(lo, hi):
    """1-2-5 ticks covering [lo, hi] on a log axis, and the rounded range."""
    start = math.floor(math.log10(lo))
    stop = math.ceil(math.log10(hi))
    ticks = []
    for e in range(start, stop + 1):
        for m in (1, 2, 5):
            ticks.append(m * 10.0**e)
    below = [t for t in ticks if t <= lo]
    above = [t for t in ticks if t >= hi]
    lo_t = below[-1] if below else ticks[0]
    hi_t = above[0] if above else ticks[-1]
    return [t for t in ticks if lo_t <= t <= hi_t], lo_t, hi_t


def fmt_load(v):
    return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"


def fmt_ms(v):
    return f"{v:g}" if v >= 1 else f"{v:.2g}"


def render(data):
    xs = [x for _, pts in data for x, _, _ in pts]
    ys = [y for _, pts in data for _, y, _ in pts if y > 0]
    if not ys:
        raise SystemExit("no positive p99 values to plot")
    x_ticks, x_lo, x_hi = decade_ticks(min([1000.0] + xs), max([50000.0] + xs))
    # 1k..50k exactly when the data fits inside it.
    x_lo, x_hi = min([1000.0] + xs), max([50000.0] + xs)
    x_ticks = [t for t in x_ticks if x_lo <= t <= x_hi]
    y_ticks, y_lo, y_hi = decade_ticks(min(ys), max(ys))
    if y_lo == y_hi:
        y_lo, y_hi = y_lo / 2, y_hi * 2
        y_ticks = [y_lo, y_ticks[0], y_hi]

    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + plot_w * (math.log10(x) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo))

    def py(y):
        return TOP + plot_h * (1 - (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT + plot_w / 2:.1f}" y="28" text-anchor="middle" font-size="15" '
        f'font-weight="bold">p99 latency against offered load</text>',
    ]
    # Grid and ticks.
    for t in x_ticks:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#e4e4e4"/>')
        out.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" y2="{TOP + plot_h + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 19}" text-anchor="middle">{fmt_load(t)}</text>')
    for t in y_ticks:
        y = py(t)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<line x1="{LEFT - 5}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="black"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{fmt_ms(t)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>')
    # Axis labels.
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 22}" text-anchor="middle">'
        f"offered load (texts/s, log scale)</text>"
    )
    cy = TOP + plot_h / 2
    out.append(
        f'<text x="22" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 22 {cy:.1f})">'
        f"p99 latency (ms, log scale)</text>"
    )
    # One line per label.
    for i, (label, points) in enumerate(data):
        color = COLORS[i % len(COLORS)]
        pts = [(px(x), py(y), lost) for x, y, lost in points if y > 0]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, lost in pts:
            fill = "white" if lost else color
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{color}" stroke-width="2"/>')
        # Legend entry.
        ly = TOP + 10 + 22 * i
        lx = LEFT + plot_w + 20
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 26}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<circle cx="{lx + 13}" cy="{ly}" r="4" fill="{color}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 34}" y="{ly + 4}">{escape(label)}</text>')
    note_y = TOP + 10 + 22 * len(data) + 10
    lx = LEFT + plot_w + 20
    out.append(f'<circle cx="{lx + 13}" cy="{note_y}" r="4" fill="white" stroke="#555" stroke-width="2"/>')
    out.append(f'<text x="{lx + 34}" y="{note_y + 4}" fill="#555">texts lost</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv):
    src = argv[1] if len(argv) > 1 else "bench/results.csv"
    dst = argv[2] if len(argv) > 2 else "docs/bench-p99.svg"
    data = series(read(src))
    if not data:
        raise SystemExit(f"{src}: no results")
    svg = render(data)
    parent = os.path.dirname(dst)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(dst, "w") as f:
        f.write(svg)
    print(f"wrote {dst}: {', '.join(label for label, _ in data)}")


if __name__ == "__main__":
    main(sys.argv)
