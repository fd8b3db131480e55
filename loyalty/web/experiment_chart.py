"""The rates of an experiment's versions with their 95% intervals, as inline SVG geometry:
one row per version, a line from the interval's low to its high end and a dot at the rate.
Like charts.py, the template only writes the shapes; the table beside it says the same."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

WIDTH, ROW, LEFT, RIGHT, TOP = 300, 28, 34, 10, 16


@dataclass(frozen=True)
class Row:
    key: str
    y: float
    x_low: float
    x_high: float
    x_rate: float | None
    label: str


@dataclass(frozen=True)
class IntervalChart:
    rows: list[Row]
    ticks: list[tuple[float, str]]
    width: int
    height: int
    axis_y: float


def interval_chart(variants: list[dict]) -> IntervalChart:
    top = max([v["ci_high"] for v in variants if v["enrolled"]] + [0.1])
    scale_max = min(1.0, (int(top * 10) + 1) / 10)  # the next 10% above the highest end
    span = WIDTH - LEFT - RIGHT

    def x(rate: float) -> float:
        return round(LEFT + rate / scale_max * span, 2)

    rows = []
    for index, v in enumerate(variants):
        y = TOP + index * ROW + ROW / 2
        if v["enrolled"]:
            shown = {"rate": format(v["rate"], ".1%"), "low": format(v["ci_low"], ".1%"),
                     "high": format(v["ci_high"], ".1%")}
            label = _("%(version)s: %(rate)s came back (95%% between %(low)s and %(high)s)",
                      version=v["key"], **shown)
            rows.append(Row(v["key"], y, x(v["ci_low"]), x(v["ci_high"]), x(v["rate"]), label))
        else:
            rows.append(Row(v["key"], y, LEFT, LEFT, None,
                            _("%(version)s: nobody counted yet", version=v["key"])))
    height = int(TOP + len(variants) * ROW + 14)
    ticks = [(x(scale_max * i / 4), f"{scale_max * i / 4:.0%}") for i in range(5)]
    return IntervalChart(rows, ticks, WIDTH, height, height - 14)
