#!/usr/bin/env python3
"""Renders the Grafana dashboard as a PNG without Grafana: runs every panel's PromQL,
exactly as the dashboard JSON holds it, against a Prometheus HTTP API and draws the
panels where the dashboard's grid puts them. The README's picture is made this way
(deploy/grafana/picture.sh), so it cannot drift from the dashboard.

    render.py --prometheus http://127.0.0.1:9090 --minutes 10 --out docs/img/dashboard.png

Needs matplotlib. `$__rate_interval` and `$__interval` become --rate-interval and
the step, as Grafana would fill them in for that scrape interval.
"""

import argparse
import datetime as dt
import json
import math
import re
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

DASHBOARD = Path(__file__).resolve().parent / "dashboards" / "session-store.json"
# Grafana's dark theme and its classic palette.
BACKGROUND, PANEL, TEXT, MUTED, GRID = "#111217", "#181b1f", "#ccccdc", "#8e8e8e", "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
           "#fade2a", "#37872d", "#c4162a", "#1f60c4", "#8f3bb8", "#ffb357", "#96d98d"]
MAX_LEGEND = 8


def query_range(prometheus, expr, start, end, step):
    """[(labels, [(datetime, value)])] for one PromQL expression."""
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{params}", timeout=30) as res:
        answer = json.load(res)
    if answer.get("status") != "success":
        raise SystemExit(f"error: Prometheus refused {expr}: {answer}")
    series = []
    for result in answer["data"]["result"]:
        points = [(dt.datetime.fromtimestamp(float(t)), float(v)) for t, v in result["values"]]
        series.append((result["metric"], points))
    return series


def legend_of(fmt, labels):
    """Grafana's legendFormat: {{label}} replaced by the series' label value."""
    if not fmt:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip()


def formatter(unit):
    """A tick formatter for a Grafana unit."""
    def seconds(v, _):
        if v == 0:
            return "0"
        if v < 1e-3:
            return f"{v * 1e6:.0f} µs"
        if v < 1:
            return f"{v * 1e3:.3g} ms"
        return f"{v:.3g} s"

    def compact(v):
        for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= limit:
                return f"{v / limit:.3g}{suffix}"
        return f"{v:.3g}"

    def per_second(suffix):
        return lambda v, _: compact(v) + suffix

    return {
        "s": seconds,
        "percentunit": lambda v, _: f"{v * 100:.0f}%",
        "reqps": per_second(" req/s"),
        "ops": per_second("/s"),
    }.get(unit, lambda v, _: compact(v))


def draw_panel(ax, panel, prometheus, start, end, step, rate_interval):
    """One panel: every target's series, a legend of the busiest ones."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    log_scale = (defaults.get("custom", {}).get("scaleDistribution") or {}).get("type") == "log"
    ax.set_facecolor(PANEL)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.tick_params(colors=MUTED, labelsize=7)
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.set_title(panel["title"], color=TEXT, fontsize=9.5, loc="left", pad=6)
    lines = []
    for target in panel.get("targets", []):
        expr = target["expr"].replace("$__rate_interval", rate_interval).replace("$__interval", f"{step}s")
        for labels, points in query_range(prometheus, expr, start, end, step):
            values = [v for _, v in points if not math.isnan(v)]
            if not values:
                continue
            mean = sum(values) / len(values)
            lines.append((mean, legend_of(target.get("legendFormat"), labels), points))
    lines.sort(key=lambda line: -line[0])
    for i, (mean, name, points) in enumerate(lines):
        xs = [t for t, _ in points]
        ys = [v for _, v in points]
        color = PALETTE[i % len(PALETTE)]
        ax.plot(xs, ys, color=color, linewidth=1.2, label=name if i < MAX_LEGEND else None)
        if not log_scale:
            ax.fill_between(xs, ys, color=color, alpha=0.06)
    if not lines:
        ax.text(0.5, 0.5, "no data", color=MUTED, ha="center", va="center", transform=ax.transAxes)
    if log_scale and lines:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(formatter(defaults.get("unit", "short"))))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.set_xlim(dt.datetime.fromtimestamp(start), dt.datetime.fromtimestamp(end))
    bottom = defaults.get("min")
    top = defaults.get("max")
    if bottom is not None or top is not None:
        lo, hi = ax.get_ylim()
        ax.set_ylim(bottom if bottom is not None else lo, top * 1.05 if top is not None else hi)
    if lines:
        more = len(lines) - MAX_LEGEND
        # Below the graph, as Grafana draws a bottom legend; the busiest first.
        legend = ax.legend(loc="upper left", bbox_to_anchor=(-0.01, -0.1), fontsize=6.5, frameon=False,
                           labelcolor=TEXT, ncol=2 if len(lines) > 3 else 1, handlelength=1.2,
                           borderaxespad=0, columnspacing=1.5)
        if more > 0:
            ax.text(1.0, -0.1, f"+{more} more", color=MUTED, fontsize=6.2, ha="right", va="top",
                    transform=ax.transAxes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=15, help="the time range, ending now (or at --end)")
    parser.add_argument("--end", type=float, help="the range's end, Unix seconds (default: now)")
    parser.add_argument("--step", type=int, default=5, help="seconds between points")
    parser.add_argument("--rate-interval", default="1m", help="what $__rate_interval becomes")
    parser.add_argument("--note", default="", help="a line under the title: how the data was made")
    args = parser.parse_args()

    dashboard = json.loads(args.dashboard.read_text())
    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    end = args.end or dt.datetime.now().timestamp()
    start = end - args.minutes * 60
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)

    plt.rcParams["font.family"] = "DejaVu Sans"
    fig = plt.figure(figsize=(16, rows * 0.36 + 1.2), facecolor=BACKGROUND)
    grid = fig.add_gridspec(rows, 24, left=0.01, right=0.99, top=1 - 1.0 / (rows * 0.36 + 1.2),
                            bottom=0.03, hspace=0, wspace=0)
    for panel in panels:
        g = panel["gridPos"]
        cell = grid[g["y"]:g["y"] + g["h"], g["x"]:g["x"] + g["w"]].subgridspec(
            1, 1, wspace=0, hspace=0)[0]
        ax = fig.add_subplot(cell)
        # Room between panels, as Grafana leaves it, and a quarter of the panel for the legend.
        box = ax.get_position()
        legend = box.height * 0.27
        ax.set_position([box.x0 + 0.03, box.y0 + 0.012 + legend, box.width - 0.036,
                         box.height - 0.037 - legend])
        draw_panel(ax, panel, args.prometheus, start, end, args.step, args.rate_interval)
    when = dt.datetime.fromtimestamp(end).strftime("%Y-%m-%d %H:%M")
    fig.text(0.012, 1 - 0.35 / (rows * 0.36 + 1.2), f"{dashboard['title']}", color=TEXT, fontsize=14,
             fontweight="bold", va="center")
    fig.text(0.16, 1 - 0.35 / (rows * 0.36 + 1.2),
             f"last {args.minutes:g} minutes to {when}   {args.note}", color=MUTED, fontsize=8.5, va="center")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, facecolor=BACKGROUND)
    print(f"{args.out}: {len(panels)} panels from {args.dashboard.name}, {args.prometheus}")


if __name__ == "__main__":
    main()
