"""The end-of-crawl report: what the providers said, what was done, what to fix.

The log and JSON reports are built from the crawl's stats alone (the
``proxyerrors/`` keys), so the same report can be rebuilt from a stats dump of
any past crawl. The HTML report (``PROXYERRORS_REPORT_HTML``) adds what
happened over time, recorded in bounded memory by :class:`ReportRecorder`
from Scrapy's signals and the stats.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from scrapy import signals

from . import _stats as S
from ._classifier import describe
from ._config import load_profiles
from ._redact import redact_text, request_secrets
from ._routes import basic_credentials
from ._scheduler import META_ROUTE
from ._timeline import Table, Timeline, render_html
from .profiles import BUILTIN_PROFILES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

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
    #: Requests whose retry budget ran out (provider and plain retries).
    given_up: int = 0
    #: Rotations asked for that found no other route (the same one was used again).
    rotations_same_route: int = 0
    #: Whether JOBDIR was set: only then are held-back requests kept for a resume.
    jobdir: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def action_label(self, action: str) -> str:
        """*action* as the report shows it: a rotation that found no other route says so."""
        if action == "rotate" and not self.rotations and self.rotations_same_route:
            return "rotate (no other route)"
        return action

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
                ", ".join(f"{self.action_label(a)} x{n}" for a, n in sorted(r.actions.items())),
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


def build_report(
    stats: Mapping[str, Any],
    profiles: Mapping[str, Profile] | None = None,
    *,
    jobdir: bool = False,
) -> Report:
    """Turn a stats dict into a :class:`Report` (*jobdir*: whether ``JOBDIR`` was set)."""
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
        given_up=int(stats.get(f"{S.RETRY_BASE}/max_reached", 0))
        + int(stats.get("retry/max_reached", 0)),
        rotations_same_route=int(stats.get(S.ROTATE_NONE, 0)),
        jobdir=jobdir,
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
        if report.jobdir:
            kept = f"{report.requeued} request(s) were kept for a JOBDIR resume."
        elif report.requeued:
            kept = (
                f"{report.requeued} request(s) were not sent; without JOBDIR they are lost "
                "when the process ends (set JOBDIR to resume the crawl)."
            )
        else:
            kept = ""
        out.append(
            f"The crawl stopped ({report.finish_reason}) because {provider} answered {code}: "
            f"{meaning}{fix} {kept}".rstrip()
        )
    if report.waited_seconds >= 1:
        out.append(
            f"Requests waited {report.waited_seconds:.1f} s in total for backoff and the waits "
            f"providers asked for (Retry-After, rate limits); {report.pauses} route pause(s)."
        )
    rotated = f"rotated: {report.rotations}"
    if report.rotations_same_route:
        rotated += f" (and {report.rotations_same_route} with no other route to go to)"
    out.append(
        f"Retries: {report.retries}, given up: {report.given_up}, dropped: {report.dropped}, "
        f"{rotated}, paused: {report.pauses}, re-queued: {report.requeued}."
    )
    return out


# --------------------------------------------------------------- HTML report


@dataclass
class RouteHealth:
    """What one route (proxy, session, IP) went through, as counts."""

    requests: int = 0
    error_replies: int = 0  # replies with a status >= 400, at the wire
    failures: int = 0  # no reply at all (refused, timeout, reset...)
    cooldowns: int = 0
    pauses: int = 0
    paused_seconds: float = 0.0

    def add(self, other: RouteHealth) -> None:
        self.requests += other.requests
        self.error_replies += other.error_replies
        self.failures += other.failures
        self.cooldowns += other.cooldowns
        self.pauses += other.pauses
        self.paused_seconds += other.paused_seconds


#: Routes listed one by one in the HTML report; the rest are summed in one row.
MAX_ROUTES = 256
_OTHER_ROUTES = "(other routes)"
_MAX_SECRETS = 1_000
_MAX_SEEN = 4_096


class ReportRecorder:
    """What the HTML report shows over time, recorded in bounded memory.

    Buckets start narrow (a short crawl still shows its shape) and widen as
    the crawl goes on: at most *max_buckets* per series.

    Fed by Scrapy's signals (see :class:`ProxyErrorsReport`) and by the
    crawl's stats, which it reads at most every *poll_seconds*; components
    that know more (the middleware's scheduler) may call :meth:`record_pause`,
    :meth:`record_cooldown` and :meth:`record_stop` directly. Every method
    is cheap and never raises into the crawl.
    """

    def __init__(
        self,
        bucket_seconds: float = 0.05,
        max_buckets: int = 512,
        *,
        max_routes: int = MAX_ROUTES,
        poll_seconds: float = 0.5,
    ) -> None:
        self.timeline = Timeline(bucket_seconds, max_buckets)
        self.routes: dict[str, RouteHealth] = {}
        self.max_routes = max_routes
        self.poll_seconds = poll_seconds
        self._counters: dict[str, float] = {}
        self._last_poll = 0.0
        self._stopped: tuple[str, str, float] | None = None
        self._secrets: set[str] = set()
        self._seen_proxies: set[str | bytes] = set()
        self._in_flight: set[int] = set()

    # -- secrets -----------------------------------------------------------

    def learn_secrets(self, proxy: str | None, request: Request | None = None) -> None:
        """Remember the secrets of a proxy URL / request, to mask them in the page."""
        found: list[str] = []
        if proxy and proxy not in self._seen_proxies:
            if len(self._seen_proxies) >= _MAX_SEEN:
                self._seen_proxies.clear()  # only a cache: the secrets stay known
            self._seen_proxies.add(proxy)
            try:
                password = urlsplit(proxy).password
            except ValueError:
                password = None
            if password:
                found.append(unquote(password))
        if request is not None:
            # Scrapy moves a proxy URL's credentials into this header.
            auth = request.headers.get("Proxy-Authorization")
            if auth and auth not in self._seen_proxies:
                self._seen_proxies.add(auth)
                creds = basic_credentials(auth)
                if creds is not None:
                    found.append(creds.password)
            found += request_secrets(request.url, request.headers)
        for secret in found:
            if len(secret) >= 4 and len(self._secrets) < _MAX_SECRETS:
                self._secrets.add(secret)

    def mask(self, text: str) -> str:
        """*text* with credentials, key parameters and every learned secret masked."""
        return redact_text(text, sorted(self._secrets, key=len, reverse=True))

    # -- routes ------------------------------------------------------------

    def _route(self, route: str) -> RouteHealth:
        health = self.routes.get(route)
        if health is not None:
            return health
        if len(self.routes) >= self.max_routes:
            # Keep the routes worth reading: fold the quietest into one row.
            quietest = min(
                (k for k in self.routes if k != _OTHER_ROUTES),
                key=lambda k: (
                    self.routes[k].failures + self.routes[k].error_replies,
                    self.routes[k].requests,
                ),
            )
            folded = self.routes.pop(quietest)
            self.routes.setdefault(_OTHER_ROUTES, RouteHealth()).add(folded)
        health = self.routes[route] = RouteHealth()
        return health

    # -- events ------------------------------------------------------------

    def record_request(self, route: str | None, at: float) -> None:
        self.timeline.count("traffic/sent", at)
        if route:
            self._route(route).requests += 1

    def record_reply(self, route: str | None, status: int, at: float) -> None:
        if status >= 400:
            self.timeline.count("traffic/error reply", at)
            if route:
                self._route(route).error_replies += 1
        else:
            self.timeline.count("traffic/ok", at)

    def record_failure(self, route: str | None, at: float) -> None:
        """A request through *route* got no reply (refused, timeout, reset...)."""
        self.timeline.count("traffic/no reply", at)
        if route:
            self._route(route).failures += 1

    def record_pause(self, key: str, start: float, end: float, reason: str) -> None:
        """*key* (a route, an account, a site) was paused from *start* to *end*."""
        label = f"{key}: {reason}" if reason else key
        if self.timeline.band("pause", label, start, end) and key in self.routes:
            health = self.routes[key]
            health.pauses += 1
            health.paused_seconds += max(end - start, 0.0)

    def record_breaker(self, key: str, start: float, end: float, reason: str = "") -> None:
        """A circuit breaker of *key* (a route or an account) was open from *start* to *end*."""
        self.timeline.band("breaker", f"{key}: {reason}" if reason else key, start, end)

    def record_cooldown(self, route: str, start: float, until: float) -> None:
        """*route* failed and rests until *until*."""
        self._route(route).cooldowns += 1
        self.timeline.count("route/cooldowns", start)

    def record_stop(self, reason: str, origin: str, at: float) -> None:
        """The crawl stopped at *at*: finish *reason*, *origin* e.g. ``soax/AUTH_FAILED``."""
        if self._stopped is None:
            self._stopped = (reason, origin, at)

    # -- stats -------------------------------------------------------------

    def poll(self, stats: Mapping[str, Any], at: float) -> None:
        """Turn the growth of the plugin's counters since the last poll into events."""
        if at - self._last_poll < self.poll_seconds:
            return
        self._last_poll = at
        for key, value in list(stats.items()):
            if not isinstance(key, str) or not key.startswith(_POLLED):
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            grown = number - self._counters.get(key, 0.0)
            if grown > 0:
                self._counters[key] = number
                kind, _, name = key[len(S.PREFIX) + 1 :].partition("/")
                series = "error" if kind == "category" else kind
                self.timeline.count(f"{series}/{name}", at, int(grown))
        stopped = stats.get(S.STOPPED)
        if stopped and self._stopped is None:
            self.record_stop(str(stopped), str(stats.get(S.STOPPED_BY, "")), at)

    # -- the page ----------------------------------------------------------

    def close(self, at: float, reason: str) -> None:
        if self._stopped is not None:
            stop_reason, origin, start = self._stopped
            label = f"{stop_reason} ({origin})" if origin else stop_reason
            self.timeline.band("stop", label, start, max(at, start))
        if self.timeline.end is None or self.timeline.end < at:
            self.timeline.end = at

    def tables(self, report: Report) -> list[Table]:
        rows = []
        ordered = sorted(
            self.routes.items(),
            key=lambda item: (
                item[0] == _OTHER_ROUTES,
                -(item[1].failures + item[1].error_replies),
                -item[1].requests,
                item[0],
            ),
        )
        for route, health in ordered:
            rows.append((
                self.mask(route), health.requests, health.error_replies, health.failures,
                health.cooldowns, health.pauses, round(health.paused_seconds, 1),
            ))
        rules = [
            (
                row.provider, row.code, row.category, row.count,
                ", ".join(f"{report.action_label(a)} x{n}" for a, n in sorted(row.actions.items())),
                row.meaning or "(no rule: unknown code)", row.fix, row.docs,
            )
            for row in report.rows
        ]
        outcome = [
            ("retries", report.retries), ("given up", report.given_up),
            ("dropped", report.dropped), ("rotated", report.rotations),
            ("rotation with no other route", report.rotations_same_route),
            ("route pauses", report.pauses), ("re-queued at the stop", report.requeued),
            ("seconds waited", report.waited_seconds),
        ]
        return [
            Table("Provider errors and the rules that fired",
                  ("provider", "code", "category", "count", "action taken", "meaning", "fix",
                   "source"), rules, css_class="rules"),
            Table("Outcomes", ("outcome", "requests"), outcome,
                  note="From the crawl's stats: the same figures as the log report.",
                  css_class="outcomes"),
            Table("Route health", ("route", "requests", "error replies", "no reply",
                                   "cooldowns", "pauses", "paused s"), rows,
                  note=(f"The {self.max_routes} routes with the most failures are listed; "
                        f"{_OTHER_ROUTES} sums the rest.") if _OTHER_ROUTES in self.routes
                  else "", css_class="routes"),
        ]

    def render(self, report: Report, title: str = "scrapy-proxyerrors crawl report") -> str:
        summary = [self.mask(line) for line in report.summary]
        if not report.rows:
            summary.append("No provider errors.")
        # Band labels carry route ids and origins: masked like every other dynamic text.
        for band in self.timeline.bands:
            band.label = self.mask(band.label)
        subtitle = f"finish reason: {report.finish_reason}"
        return render_html(title, self.timeline, self.tables(report), summary=summary,
                           subtitle=subtitle)


_POLLED = (f"{S.PREFIX}/category/", f"{S.PREFIX}/action/")
_SINGLE_REQUEST_COMMANDS = frozenset({"fetch", "shell", "view"})


def _command_name(argv: Sequence[str] | None = None) -> str | None:
    """The Scrapy command this process runs (``crawl``, ``fetch``...), if any.

    Read from the interpreter's own command line (``sys.orig_argv``), which,
    unlike ``sys.argv``, Scrapy does not rewrite: ``scrapy fetch URL`` or
    ``python -m scrapy fetch URL``.
    """
    argv = list(getattr(sys, "orig_argv", sys.argv) if argv is None else argv)
    for index, arg in enumerate(argv):
        if arg == "-m" and argv[index + 1 : index + 2] == ["scrapy"]:
            rest = argv[index + 2 :]
            break
        if Path(arg).name == "scrapy":
            rest = argv[index + 1 :]
            break
    else:
        return None
    # As scrapy.cmdline finds it: the first argument that is not an option.
    return next((arg for arg in rest if not arg.startswith("-")), None)


def recorder_for(crawler: Crawler) -> ReportRecorder | None:
    """The HTML report's recorder of *crawler*, or ``None`` when the report is off.

    For components that know about pauses, breakers and stops first-hand (the
    middleware's scheduler): look it up once, after the extensions are built.
    """
    extensions = getattr(getattr(crawler, "extensions", None), "middlewares", ())
    for extension in extensions:
        if isinstance(extension, ProxyErrorsReport):
            return extension.recorder
    return None


class ProxyErrorsReport:
    """Logs the report when the spider closes; writes ``PROXYERRORS_REPORT_FILE`` as JSON
    and ``PROXYERRORS_REPORT_HTML`` as a self-contained HTML page."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.profiles = load_profiles(crawler.settings)
        path = crawler.settings.get("PROXYERRORS_REPORT_FILE")
        self.path = Path(path) if path else None
        html_path = crawler.settings.get("PROXYERRORS_REPORT_HTML")
        self.html_path = Path(html_path) if html_path else None
        self.jobdir = bool(crawler.settings.get("JOBDIR"))
        self.recorder: ReportRecorder | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        if self.html_path is not None:
            self.recorder = ReportRecorder()
            crawler.signals.connect(self._reached, signal=signals.request_reached_downloader)
            crawler.signals.connect(self._downloaded, signal=signals.response_downloaded)
            crawler.signals.connect(self._left, signal=signals.request_left_downloader)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyErrorsReport:
        return cls(crawler)

    # -- signal handlers (HTML report only) --------------------------------

    def _poll(self, now: float) -> None:
        assert self.recorder is not None
        if self.crawler.stats is not None and now - self.recorder._last_poll >= (
            self.recorder.poll_seconds
        ):
            self.recorder.poll(self.crawler.stats.get_stats(), now)

    def _reached(self, request: Request, spider: Spider) -> None:
        assert self.recorder is not None
        now = time.time()
        proxy = request.meta.get("proxy")
        self.recorder.learn_secrets(proxy, request)
        self.recorder.record_request(request.meta.get(META_ROUTE), now)
        self._poll(now)

    def _downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        assert self.recorder is not None
        now = time.time()
        self.recorder._in_flight.add(id(request))
        self.recorder.record_reply(request.meta.get(META_ROUTE), response.status, now)
        self._poll(now)

    def _left(self, request: Request, spider: Spider) -> None:
        assert self.recorder is not None
        if id(request) in self.recorder._in_flight:
            self.recorder._in_flight.discard(id(request))
            return
        self.recorder.record_failure(request.meta.get(META_ROUTE), time.time())

    # -- close -------------------------------------------------------------

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        report = build_report(stats, self.profiles, jobdir=self.jobdir)
        quiet = (
            not report.rows
            and not report.stopped_by
            and _command_name() in _SINGLE_REQUEST_COMMANDS
        )
        if not quiet:
            level = logging.WARNING if report.rows or report.stopped_by else logging.INFO
            logger.log(level, "%(report)s", {"report": report.to_text()}, extra={"spider": spider})
        if self.path is not None:
            self._write(self.path, json.dumps(report.to_json(), indent=2, default=str),
                        "PROXYERRORS_REPORT_FILE", spider)
        if self.recorder is not None and self.html_path is not None:
            now = time.time()
            self.recorder._last_poll = 0.0  # the last figures, whenever the last poll was
            self.recorder.poll(stats, now)
            self.recorder.close(now, reason)
            self._write(self.html_path, self.recorder.render(report),
                        "PROXYERRORS_REPORT_HTML", spider)

    def _write(self, path: Path, text: str, setting: str, spider: Spider) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            logger.error(
                "Could not write %(setting)s %(path)s: %(error)s",
                {"setting": setting, "path": str(path), "error": exc},
                extra={"spider": spider},
            )
