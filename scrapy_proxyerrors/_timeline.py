"""A bounded, time-bucketed event recorder and a self-contained HTML/SVG renderer.

Used by the HTML crawl report (:mod:`scrapy_proxyerrors.report`) and by the
emulator's ``--timeline`` option, so both pictures look alike and can be put
side by side.

Memory is bounded whatever the crawl's length: counts go into time buckets,
and when ``max_buckets`` is reached neighbouring buckets merge pairwise (the
bucket width doubles); the number of series and of bands is capped too, and
what does not fit is counted, never silently lost.

The HTML has no script, no external resource and a Content-Security-Policy
that forbids loading any, so it opens offline and cannot call home.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: Series beyond this many are added to ``<group>/other``.
MAX_SERIES = 48
#: Bands beyond this many are merged into the last band of the same kind.
MAX_BANDS = 200


@dataclass
class Band:
    """A stretch of time: a pause, a stop, a breaker-open window."""

    kind: str
    label: str
    start: float
    end: float
    count: int = 1  # bands merged into this one


@dataclass
class Table:
    """A table shown under the charts: already-formatted cells (escaped on render)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    note: str = ""
    css_class: str = ""


class Timeline:
    """Counts per series per time bucket, plus bands, in bounded memory.

    Times are wall-clock seconds (``time.time()``). ``start`` defaults to the
    first recorded time; earlier events land in the first bucket.
    """

    def __init__(
        self, bucket_seconds: float = 1.0, max_buckets: int = 2000, start: float | None = None
    ) -> None:
        if not bucket_seconds > 0 or not math.isfinite(bucket_seconds):
            raise ValueError("bucket_seconds must be a positive number")
        if max_buckets < 2:
            raise ValueError("max_buckets must be at least 2")
        self.bucket_seconds = float(bucket_seconds)
        self.max_buckets = int(max_buckets)
        self.start = start
        self.end = start
        self.series: dict[str, list[int]] = {}
        self.totals: dict[str, int] = {}
        self.bands: list[Band] = []
        self.merged_bands = 0

    # -- recording ---------------------------------------------------------

    def _index(self, at: float) -> int:
        if self.start is None:
            self.start = at
        if self.end is None or at > self.end:
            self.end = at
        index = int((at - self.start) // self.bucket_seconds)
        if index < 0:
            return 0
        while index >= self.max_buckets:
            self._halve()
            index = int((at - self.start) // self.bucket_seconds)
        return index

    def _halve(self) -> None:
        """Merge neighbouring buckets pairwise: half the buckets, twice as wide."""
        self.bucket_seconds *= 2
        for name, buckets in self.series.items():
            self.series[name] = [
                sum(buckets[i : i + 2]) for i in range(0, len(buckets), 2)
            ]

    def _series_name(self, series: str) -> str:
        if series in self.series or len(self.series) < MAX_SERIES:
            return series
        group = series.partition("/")[0] if "/" in series else series
        return f"{group}/other"

    def count(self, series: str, at: float, n: int = 1) -> None:
        """Add *n* events of *series* (e.g. ``"request"``, ``"error/rate_limit"``) at *at*."""
        if n <= 0 or not math.isfinite(at):
            return
        index = self._index(at)
        name = self._series_name(series)
        buckets = self.series.get(name)
        if buckets is None:
            buckets = self.series[name] = []
        if len(buckets) <= index:
            buckets.extend([0] * (index + 1 - len(buckets)))
        buckets[index] += n
        self.totals[name] = self.totals.get(name, 0) + n

    def band(self, kind: str, label: str, start: float, end: float) -> bool:
        """Record a stretch of time (a pause, a stop...) with its reason.

        Returns whether it is a new band (``False``: merged into one already kept).
        """
        if not (math.isfinite(start) and math.isfinite(end)):
            return False
        start, end = min(start, end), max(start, end)
        self._index(start)
        self._index(end)
        for existing in reversed(self.bands[-8:]):
            # The same reason again while it is still on: one longer band.
            if existing.kind == kind and existing.label == label and start <= existing.end:
                existing.end = max(existing.end, end)
                existing.count += 1
                return False
        if len(self.bands) >= MAX_BANDS:
            self.merged_bands += 1
            same = [b for b in self.bands if b.kind == kind] or self.bands
            last = same[-1]
            last.start, last.end = min(last.start, start), max(last.end, end)
            last.count += 1
            return False
        self.bands.append(Band(kind, label, start, end))
        return True

    # -- reading -----------------------------------------------------------

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(self.end - self.start, 0.0)

    def groups(self) -> dict[str, list[str]]:
        """Series names by group (the part before the first ``/``), in first-seen order."""
        out: dict[str, list[str]] = {}
        for name in self.series:
            out.setdefault(name.partition("/")[0], []).append(name)
        return out


# -- rendering ---------------------------------------------------------------

_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728",
)
_BAND_COLOURS = {
    "stop": "#d62728", "pause": "#f2b134", "breaker": "#b07aa1", "cooldown": "#76b7b2",
}
_GROUP_TITLES = {
    "request": "Requests",
    "traffic": "Requests over time",
    "error": "Provider errors by category",
    "action": "Actions taken",
    "answer": "Answers",
    "kind": "Requests by kind",
}
_CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;
max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 6px}
.sub{color:#666;margin:0 0 12px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
table.rules td:last-child{overflow-wrap:anywhere;min-width:14em}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
.note{color:#666;font-size:12px}.summary li{margin:2px 0}
svg{display:block;margin:2px 0 4px}svg text{font-size:11px;fill:#444}
"""
_WIDTH = 1040
_LEFT = 56
_PLOT = _WIDTH - _LEFT - 12
_MAX_COLUMNS = 400


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 or seconds == 0 else f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _columns(timeline: Timeline, names: Sequence[str]) -> tuple[list[list[int]], float]:
    """The buckets of *names*, merged further so a chart has at most _MAX_COLUMNS columns."""
    length = max((len(timeline.series[n]) for n in names), default=0)
    length = max(length, int(timeline.duration // timeline.bucket_seconds) + 1)
    factor = max(1, math.ceil(length / _MAX_COLUMNS))
    columns = math.ceil(length / factor)
    out = []
    for name in names:
        buckets = timeline.series[name]
        row = [sum(buckets[i * factor : (i + 1) * factor]) for i in range(columns)]
        out.append(row)
    return out, timeline.bucket_seconds * factor


def _nice_max(value: int) -> int:
    if value <= 5:
        return max(value, 1)
    magnitude = int(10 ** int(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _bands_svg(timeline: Timeline, height: int, span: float) -> str:
    parts = []
    start = timeline.start or 0.0
    for band in timeline.bands:
        x0 = _LEFT + _PLOT * (band.start - start) / span
        x1 = _LEFT + _PLOT * (band.end - start) / span
        width = max(x1 - x0, 2.0)
        colour = _BAND_COLOURS.get(band.kind, "#999999")
        tip = f"{band.kind}: {band.label} ({_fmt_seconds(band.end - band.start)}" + (
            f", {band.count} times)" if band.count > 1 else ")"
        )
        parts.append(
            f'<rect class="band band-{_e(band.kind)}" x="{x0:.1f}" y="0" width="{width:.1f}" '
            f'height="{height}" fill="{colour}" fill-opacity="0.18"><title>{_e(tip)}</title></rect>'
        )
    return "".join(parts)


def _chart(timeline: Timeline, group: str, names: Sequence[str], colours: dict[str, str]) -> str:
    rows, width_seconds = _columns(timeline, names)
    columns = len(rows[0]) if rows else 0
    if not columns:
        return ""
    stacked = [sum(row[i] for row in rows) for i in range(columns)]
    top = _nice_max(max(stacked))
    height, plot_h = 150, 124
    span = max(columns * width_seconds, 1e-9)
    bar_w = _PLOT / columns
    parts = [
        f'<svg class="chart chart-{_e(group)}" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{_e(_GROUP_TITLES.get(group, group))}">',
        _bands_svg(timeline, plot_h, span),
        f'<line x1="{_LEFT}" y1="{plot_h}" x2="{_LEFT + _PLOT}" y2="{plot_h}" stroke="#999"/>',
        f'<line x1="{_LEFT}" y1="0" x2="{_LEFT}" y2="{plot_h}" stroke="#999"/>',
        f'<text x="{_LEFT - 6}" y="10" text-anchor="end">{top}</text>',
        f'<text x="{_LEFT - 6}" y="{plot_h}" text-anchor="end">0</text>',
    ]
    for i in range(columns):
        base = 0
        x = _LEFT + i * bar_w
        for name, row in zip(names, rows, strict=True):
            value = row[i]
            if not value:
                continue
            h = plot_h * value / top
            y = plot_h - plot_h * (base + value) / top
            base += value
            t0 = i * width_seconds
            parts.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(bar_w - 0.3, 0.6):.2f}" '
                f'height="{max(h, 0.5):.2f}" fill="{colours[name]}">'
                f"<title>{_e(name)}: {value} at {_e(_fmt_seconds(t0))}</title></rect>"
            )
    ticks = 6
    for k in range(ticks + 1):
        x = _LEFT + _PLOT * k / ticks
        parts.append(
            f'<text x="{x:.1f}" y="{plot_h + 16}" text-anchor="middle">'
            f"{_e(_fmt_seconds(span * k / ticks))}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colours[name]}"></i>{_e(name.partition("/")[2] or name)}'
        f" ({timeline.totals.get(name, 0)})</span>"
        for name in names
    )
    unit = _fmt_seconds(width_seconds)
    title = _GROUP_TITLES.get(group, group)
    return (
        f'<h2>{_e(title)}</h2><p class="note">per {_e(unit)}; shaded bands: pauses and '
        f"stops (hover for the reason)</p>{''.join(parts)}"
        f'<div class="legend legend-{_e(group)}">{legend}</div>'
    )


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for cell in row:
            numeric = isinstance(cell, (int, float)) and not isinstance(cell, bool)
            cells.append(f'<td class="n">{_e(cell)}</td>' if numeric else f"<td>{_e(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(table.columns)}">none</td></tr>')
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    css = f' class="{_e(table.css_class)}"' if table.css_class else ""
    return f"<h2>{_e(table.title)}</h2><table{css}><tr>{head}</tr>{''.join(body)}</table>{note}"


def band_table(timeline: Timeline) -> Table:
    """The bands as a table: kind, reason, start and length."""
    start = timeline.start or 0.0
    rows = [
        (
            band.kind,
            band.label,
            _fmt_seconds(max(band.start - start, 0.0)),
            _fmt_seconds(band.end - band.start),
            band.count,
        )
        for band in timeline.bands
    ]
    note = f"{timeline.merged_bands} more bands merged into these." if timeline.merged_bands else ""
    return Table(
        "Pauses and stops", ("kind", "reason", "at", "lasting", "times"), rows, note, "bands"
    )


def render_html(
    title: str,
    timeline: Timeline,
    tables: Sequence[Table] = (),
    *,
    summary: Iterable[str] = (),
    subtitle: str = "",
) -> str:
    """One self-contained HTML page: a chart per series group, the bands, then *tables*."""
    groups = timeline.groups()
    colours: dict[str, str] = {}
    charts = []
    for group, names in groups.items():
        for i, name in enumerate(names):
            colours[name] = _PALETTE[i % len(_PALETTE)]
        charts.append(_chart(timeline, group, names, colours))
    if not groups:
        charts.append('<p class="note">Nothing was recorded.</p>')
    if timeline.start is not None:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timeline.start))
        when = f"started {started}, lasted {_fmt_seconds(timeline.duration)}"
    else:
        when = "nothing recorded"
    items = "".join(f"<li>{_e(line)}</li>" for line in summary)
    summary_html = f'<ul class="summary">{items}</ul>' if items else ""
    sub = f"{subtitle}; {when}" if subtitle else when
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        # No script, no network: the page can load nothing beyond itself.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="sub">{_e(sub)}</p>{summary_html}'
        f"{''.join(charts)}{_table_html(band_table(timeline))}"
        f"{''.join(_table_html(t) for t in tables)}"
        "</body></html>\n"
    )
