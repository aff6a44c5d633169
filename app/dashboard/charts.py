"""Server-rendered bar charts: the geometry of an SVG bar chart, drawn by a template.

No chart library and no script: the home page's charts are plain ``<svg>`` built from these
numbers, with a data table next to them for screen readers and for exact figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

WIDTH = 600
HEIGHT = 160
SIDE = 24  # px left and right of the bars, so that the first and last day labels fit
TOP = 10  # px above the highest bar
BOTTOM = 20  # px for the day labels


@dataclass(frozen=True)
class Bar:
    """One day's bar: position and size in SVG units, and its label (e.g. "$12.00")."""

    x: float
    y: float
    width: float
    height: float
    day: date
    label: str


@dataclass(frozen=True)
class BarChart:
    """A chart of one value per day; ``ticks`` are (x, text) day labels under the axis."""

    width: int
    height: int
    baseline: float
    bars: list[Bar]
    ticks: list[tuple[float, str]]
    maximum_label: str


def bar_chart(days: list[date], values: dict[date, int], label: Callable[[int], str] = str) -> BarChart:
    """Lay out ``values`` (missing days are 0) as bars over ``days``, oldest left.

    ``label`` formats a value (a money amount in minor units, or a count).
    Bars are scaled to the largest value; a day label every 7 days, counted back from the last.
    """
    slot = (WIDTH - 2 * SIDE) / max(len(days), 1)
    usable = HEIGHT - TOP - BOTTOM
    top_value = max((values.get(d, 0) for d in days), default=0) or 1
    bars, ticks = [], []
    for index, day in enumerate(days):
        value = values.get(day, 0)
        height = usable * value / top_value
        x = SIDE + index * slot
        bars.append(
            Bar(
                x=round(x + slot * 0.15, 2),
                y=round(TOP + usable - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                day=day,
                label=label(value),
            )
        )
        if (len(days) - 1 - index) % 7 == 0:  # weekly, ending on the last day
            ticks.append((round(x + slot / 2, 2), day.strftime("%b %d")))
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        baseline=TOP + usable,
        bars=bars,
        ticks=ticks,
        maximum_label=label(max((values.get(d, 0) for d in days), default=0)),
    )
