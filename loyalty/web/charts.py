"""Bar charts drawn as inline SVG on the server: no chart library, no script, no network.

The geometry is computed here and the template only writes the rectangles, so the page
works with scripts off and the chart can be read by a screen reader through each bar's
title and the table next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _

WIDTH, HEIGHT, TOP, BOTTOM = 300, 120, 14, 18  # viewBox units; CSS scales the chart
MAX_DAYS = 92


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    total: str
    peak: str
    bars: list[Bar]
    first_day: str
    last_day: str
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM


@dataclass(frozen=True)
class ChannelFigures:
    channel_id: int
    name: str
    days: list[date]
    rows: list[dict]
    charts: list[Chart]


def day_range(since: date, until: date) -> list[date]:
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]


def channel_figures(rows: list[dict], channels: list, since: date, until: date
                    ) -> list[ChannelFigures]:
    """One set of charts (payments, amount, points per day) for every channel."""
    days = day_range(since, until)
    by_key = {(row["channel_id"], row["day"]): row for row in rows}
    figures = []
    for channel in channels:
        daily = [by_key.get((channel.id, day), {"day": day, "payments": 0, "amount": Decimal(0),
                                                 "points": 0, "unique_customers": 0})
                 for day in days]
        charts = [
            bar_chart(_("Payments"), days, [r["payments"] for r in daily], lambda v: f"{v:,}"),
            bar_chart(_("Amount"), days, [Decimal(r["amount"]) for r in daily], _kes),
            bar_chart(_("Points"), days, [r["points"] for r in daily], lambda v: f"{v:,}"),
        ]
        figures.append(ChannelFigures(channel.id, channel.name, days, daily, charts))
    return figures


def bar_chart(title: str, days: list[date], values: list, fmt) -> Chart:
    peak = max(values, default=0) or 0
    plot = HEIGHT - TOP - BOTTOM
    slot = WIDTH / max(len(days), 1)
    gap = min(2.0, slot * 0.2)
    bars = []
    for index, (day, value) in enumerate(zip(days, values, strict=False)):
        height = float(value) / float(peak) * plot if peak else 0.0
        bars.append(Bar(x=round(index * slot + gap / 2, 2), y=round(HEIGHT - BOTTOM - height, 2),
                        width=round(slot - gap, 2), height=round(height, 2),
                        label=f"{day:%d %b}: {fmt(value)}"))
    return Chart(title=title, total=fmt(sum(values)), peak=fmt(peak), bars=bars,
                 first_day=f"{days[0]:%d %b}" if days else "", last_day=f"{days[-1]:%d %b}"
                 if days else "")


def _kes(value) -> str:
    amount = Decimal(value)
    if amount == amount.to_integral_value():
        return f"KES {int(amount):,}"
    return f"KES {amount:,.2f}"
