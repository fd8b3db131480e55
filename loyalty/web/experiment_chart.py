"""The rates of an experiment's versions with their 95% intervals, as inline SVG geometry:
one row per version, a line from the interval's low to its high end and a dot at the rate.
Like charts.py, the template only writes the shapes; the table beside it says the same."""

from __future__ import annotations

from dataclasses import dataclass

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
            label = (f"{v['key']}: {v['rate']:.1%} came back "
                     f"(95% between {v['ci_low']:.1%} and {v['ci_high']:.1%})")
            rows.append(Row(v["key"], y, x(v["ci_low"]), x(v["ci_high"]), x(v["rate"]), label))
        else:
            rows.append(Row(v["key"], y, LEFT, LEFT, None, f"{v['key']}: nobody counted yet"))
    height = int(TOP + len(variants) * ROW + 14)
    ticks = [(x(scale_max * i / 4), f"{scale_max * i / 4:.0%}") for i in range(5)]
    return IntervalChart(rows, ticks, WIDTH, height, height - 14)
