"""The end-of-crawl report: what the providers said, what was done, what to fix.

Built from the crawl's stats alone (the ``proxyerrors/`` keys), so the same
report can be rebuilt from a stats dump of any past crawl.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals

from . import _stats as S
from ._classifier import describe
from ._config import load_profiles
from .profiles import BUILTIN_PROFILES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Spider
    from scrapy.crawler import Crawler

    from ._profile import Profile

logger = logging.getLogger(__name__)


@dataclass
class ReportRow:
    provider: str
    code: str
    count: int
    actions: dict[str, int] = field(default_factory=dict)
    category: str = ""
    meaning: str = ""
    fix: str = ""
    docs: str = ""


@dataclass
class Report:
    finish_reason: str | None
    rows: list[ReportRow]
    retries: int = 0
    rotations: int = 0
    waited_seconds: float = 0.0
    pauses: int = 0
    dropped: int = 0
    requeued: int = 0
    stopped_by: str | None = None
    summary: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        """A compact table a person can act on: one row per code, then its meaning and fix."""
        lines = ["scrapy-proxyerrors report"]
        lines.extend(f"  {s}" for s in self.summary)
        if not self.rows:
            lines.append("  No provider errors.")
            return "\n".join(lines)
        cells = [("provider", "code", "count", "action taken")] + [
            (
                r.provider,
                r.code,
                str(r.count),
                ", ".join(f"{a} x{n}" for a, n in sorted(r.actions.items())),
            )
            for r in self.rows
        ]
        widths = [max(len(c[i]) for c in cells) for i in range(3)]
        indent = " " * (4 + widths[0] + 2)
        for index, cell in enumerate(cells):
            provider, code = cell[0].ljust(widths[0]), cell[1].ljust(widths[1])
            lines.append(f"  {provider}  {code}  {cell[2].rjust(widths[2])}  {cell[3]}")
            row = self.rows[index - 1] if index else None
            if row is not None and row.meaning:
                lines.append(f"{indent}meaning: {row.meaning}")
                lines.append(f"{indent}fix: {row.fix}")
        return "\n".join(lines)


def build_report(stats: Mapping[str, Any], profiles: Mapping[str, Profile] | None = None) -> Report:
    """Turn a stats dict into a :class:`Report`."""
    profiles = profiles if profiles is not None else BUILTIN_PROFILES
    rows: dict[tuple[str, str], ReportRow] = {}
    error_prefix = f"{S.PREFIX}/error/"
    decision_prefix = f"{S.PREFIX}/decision/"
    for key, value in stats.items():
        if key.startswith(error_prefix):
            provider, _, code = key[len(error_prefix) :].partition("/")
            rows.setdefault((provider, code), ReportRow(provider, code, 0)).count = int(value)
    for key, value in stats.items():
        if key.startswith(decision_prefix):
            rest = key[len(decision_prefix) :]
            provider, _, rest = rest.partition("/")
            code, _, action = rest.rpartition("/")
            row = rows.setdefault((provider, code), ReportRow(provider, code, 0))
            row.actions[action] = int(value)
    for (provider, code), row in rows.items():
        rule = describe(provider, code, profiles)
        if rule is not None:
            row.category, row.meaning, row.fix, row.docs = (
                str(rule.category),
                rule.meaning,
                rule.fix,
                rule.docs,
            )
    report = Report(
        finish_reason=stats.get("finish_reason"),
        rows=sorted(rows.values(), key=lambda r: (-r.count, r.provider, r.code)),
        retries=int(stats.get(f"{S.RETRY_BASE}/count", 0)) + int(stats.get("retry/count", 0)),
        rotations=int(stats.get(S.ROTATE_PROXY, 0)) + int(stats.get(S.ROTATE_SESSION, 0)),
        waited_seconds=round(float(stats.get(S.WAIT_SECONDS, 0.0)), 3),
        pauses=int(stats.get(S.PAUSES, 0)),
        dropped=int(stats.get(S.DROPPED, 0)),
        requeued=int(stats.get(S.REQUEUED, 0)),
        stopped_by=stats.get(S.STOPPED_BY),
    )
    report.summary = _sentences(report, profiles)
    return report


def _sentences(report: Report, profiles: Mapping[str, Profile]) -> list[str]:
    out: list[str] = []
    if report.stopped_by:
        provider, _, code = report.stopped_by.partition("/")
        rule = describe(provider, code, profiles)
        meaning = rule.meaning if rule else "it refused every request"
        fix = f" To continue: {rule.fix}" if rule else ""
        out.append(
            f"The crawl stopped ({report.finish_reason}) because {provider} answered {code}: "
            f"{meaning}{fix} {report.requeued} request(s) were kept for a JOBDIR resume."
        )
    if report.waited_seconds >= 1:
        out.append(
            f"Requests waited {report.waited_seconds:.1f} s in total for backoff and the waits "
            f"providers asked for (Retry-After, rate limits); {report.pauses} route pause(s)."
        )
    out.append(
        f"Retries: {report.retries}, rotations: {report.rotations}, dropped: {report.dropped}."
    )
    return out


class ProxyErrorsReport:
    """Logs the report when the spider closes; writes ``PROXYERRORS_REPORT_FILE`` as JSON."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.profiles = load_profiles(crawler.settings)
        path = crawler.settings.get("PROXYERRORS_REPORT_FILE")
        self.path = Path(path) if path else None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyErrorsReport:
        return cls(crawler)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        report = build_report(stats, self.profiles)
        level = logging.WARNING if report.rows or report.stopped_by else logging.INFO
        logger.log(level, "%(report)s", {"report": report.to_text()}, extra={"spider": spider})
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(report.to_json(), indent=2, default=str))
            except OSError as exc:
                logger.error(
                    "Could not write PROXYERRORS_REPORT_FILE %(path)s: %(error)s",
                    {"path": str(self.path), "error": exc},
                    extra={"spider": spider},
                )
