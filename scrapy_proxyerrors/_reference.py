"""The single source of truth for the plugin's settings, stats keys and meta keys.

`_config.DEFAULTS` is derived from :data:`SETTINGS`; the docs' reference
pages are generated from this module (`docs/_ext/reference.py`); and
`tests/test_reference.py` scans the package's source and fails when a
setting, stats key or meta key used in the code is missing here.

Adding a setting: add a :class:`Setting` here (name, default, one paragraph),
then read it in `_config.py`. Adding a stats key: build it in `_stats.py`
and add its pattern to :data:`STATS`. Adding a meta key: add it to :data:`META`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._vocabulary import Category


@dataclass(frozen=True)
class Setting:
    """One `PROXYERRORS_*` setting."""

    name: str
    default: Any
    doc: str
    #: How the default reads in the docs when `repr(default)` would mislead.
    shown_default: str = ""

    @property
    def default_text(self) -> str:
        return self.shown_default or repr(self.default)


@dataclass(frozen=True)
class StatsKey:
    """One stats key, or a family of them: `<placeholders>` stand for key parts."""

    pattern: str
    doc: str
    #: "count" (an integer that grows), "value" (set once) or "seconds".
    kind: str = "count"

    def regex(self) -> re.Pattern[str]:
        """A regex matching the keys of this pattern (a placeholder is one or more parts)."""
        parts = re.split(r"(<[a-z_]+>)", self.pattern)
        body = "".join("[^ ]+?" if p.startswith("<") else re.escape(p) for p in parts if p)
        return re.compile(f"^{body}$")


@dataclass(frozen=True)
class MetaKey:
    """One `Request.meta` key the plugin reads (`in`) or writes (`out`)."""

    name: str
    direction: str
    doc: str


_S = Setting

SETTINGS: tuple[Setting, ...] = (
    _S("PROXYERRORS_ENABLED", True,
       "Turn the plugin off without removing it. `False` gives stock Scrapy behaviour: "
       "the add-on leaves `RetryMiddleware` and the `https` handler in place, and no "
       "response is classified."),
    _S("PROXYERRORS_PROVIDER", None,
       "Force one profile name (e.g. `\"soax\"`) for every proxied or API response. "
       "By default the provider is detected per response: `meta[\"proxyerrors_provider\"]`, "
       "then this setting, then the proxy or API host, then a signature header, then "
       "`generic`."),
    _S("PROXYERRORS_PROVIDERS", {},
       "User-defined provider profiles: a dict, inline JSON, or a path to a JSON or TOML "
       "file. Each profile says how its replies are recognised, where the code is, and one "
       "rule per code (category, action, scope, meaning, fix); see the Providers page."),
    _S("PROXYERRORS_PROXIES", [],
       "Proxy URLs the plugin assigns to requests that have no `meta[\"proxy\"]` and rotates "
       "between: a list, a string of URLs separated by commas, blanks or newlines, a JSON "
       "list, or the path of a file with one URL per line. Passwords never appear in errors, "
       "logs, stats or reports. A proxy of the pool carries one request at a time until it "
       "has answered once (a dead or hanging proxy costs one request)."),
    _S("PROXYERRORS_ACTIONS", {},
       "Override the action of a rule without code: "
       "`{\"provider/code\" or \"provider/status\": action}`, e.g. "
       "`{\"soax/NODE_NOT_FOUND\": \"drop\"}`. Unknown providers, codes and actions are "
       "refused at start-up with `BadSettingError`."),
    _S("PROXYERRORS_MAX_RETRIES", None,
       "Retries per request for provider errors that spend the retry budget (`retry`, "
       "`rotate`); `meta[\"max_retry_times\"]` wins. `None` means `RETRY_TIMES` (and 0 "
       "when `RETRY_ENABLED` is `False`). Throttling (rate limits, concurrency limits, "
       "`Retry-After`) has its own budget: `PROXYERRORS_THROTTLE_MAX_TIME`.",
       shown_default="None (RETRY_TIMES)"),
    _S("PROXYERRORS_ROTATE_TIMES", 5,
       "Moves per request off a route its provider reports failed (a `rotate` rule of "
       "route scope: a node gone offline, an IP that timed out), to another proxy of "
       "the pool or a fresh sticky session, that do not spend the retry budget: the "
       "failure was the route's, not the page's (scrapy-rotating-proxies keeps the "
       "same apart, 5 by default). Beyond it, and when there is no other route, a "
       "rotation spends `RETRY_TIMES` like any retry. 0 when `RETRY_ENABLED` is "
       "`False`."),
    _S("PROXYERRORS_BACKOFF_BASE", 0.5,
       "The first backoff step in seconds; it doubles on each retry of a request, half of "
       "it jittered. Also the floor of any provider wait, so a `Retry-After: 0` never "
       "turns into a retry storm."),
    _S("PROXYERRORS_BACKOFF_MAX", 30.0,
       "The largest backoff step, in seconds (at least `PROXYERRORS_BACKOFF_BASE`)."),
    _S("PROXYERRORS_MAX_WAIT", 300.0,
       "The longest single wait a provider may ask for (`Retry-After`, "
       "`X-RateLimit-Reset`, a documented wait) that the crawl honours, in seconds. A "
       "longer one escalates: `drop` for a request or route scope, `stop` for an "
       "account scope. `inf` honours any wait."),
    _S("PROXYERRORS_THROTTLE_MAX_TIME", 600.0,
       "How long, in seconds, one request may keep being held back by throttling "
       "(`rate_limit` and `concurrency` errors, any 429/503 with `Retry-After`) before "
       "it gives up. Throttling does not spend `RETRY_TIMES`: it is bounded by this time "
       "(and a count cap), and the give-up says which limit it was."),
    _S("PROXYERRORS_THROTTLE_MAX_COUNT", 100,
       "The throttle budget of one request as a count: how many throttling refusals "
       "(rate or concurrency limits, 429/503 with `Retry-After`) it may meet before it "
       "gives up, whatever `PROXYERRORS_THROTTLE_MAX_TIME` says."),
    _S("PROXYERRORS_BREAKER_THRESHOLD", 5,
       "Consecutive failures of a provider's own service (its 5xx, or connection "
       "failures to an API) that open the account's circuit breaker: its requests park "
       "and one probe goes out after `PROXYERRORS_BREAKER_RECOVERY`. A profile's "
       "documented threshold wins."),
    _S("PROXYERRORS_BREAKER_RECOVERY", 30.0,
       "Seconds an open circuit breaker waits before its probe; a failed probe doubles "
       "it (up to 600 s), a successful one closes the breaker."),
    _S("PROXYERRORS_ROUTE_COOLDOWN", 30.0,
       "How long a failed route (proxy, sticky session or IP) rests before new requests "
       "are assigned to it, in seconds; it doubles on each failure in a row (up to 16x) and "
       "resets on a success. Connection failures through a proxy (refused, timeout, reset, "
       "TLS failure with the proxy) count as route failures too."),
    _S("PROXYERRORS_SLOT_PER_ROUTE", False,
       "Opt-in: give each pooled route its own download slot (`host|route`), which "
       "multiplies a site's request rate by the pool size. Off, Scrapy's "
       "`DOWNLOAD_DELAY`, `CONCURRENT_REQUESTS_PER_DOMAIN` and AutoThrottle keep their "
       "per-site meaning with a pool, and route pauses are enforced by the plugin's "
       "scheduler instead of per-route slots."),
    _S("PROXYERRORS_STATE", "scrapy_proxyerrors.MemoryState",
       "The class (import path) that holds route health, cooldowns, pauses, learned rates "
       "and the stop: any implementation of the `RouteState` protocol. "
       "`scrapy_proxyerrors.RedisState` shares it between processes; see the Scale-out page."),
    _S("PROXYERRORS_REDIS_URL", None,
       "The Redis server of `RedisState` (`redis://[:password@]host:port/db`, "
       "`rediss://` for TLS, or `unix:///path/redis.sock`). `None`: scrapy-redis' "
       "`REDIS_URL` when set, else `redis://localhost:6379/0`. The password never "
       "appears in logs, stats or reports.",
       shown_default="None (REDIS_URL, else redis://localhost:6379/0)"),
    _S("PROXYERRORS_REDIS_PARAMS", {},
       "Extra keyword arguments for the Redis client of `RedisState` (e.g. "
       "`{\"ssl_ca_certs\": \"...\"}`)."),
    _S("PROXYERRORS_REDIS_NAMESPACE", None,
       "The key prefix of `RedisState` (`None`: `BOT_NAME`): processes that share a "
       "namespace share pauses, "
       "cooldowns, learned rates and the stop; use one namespace per provider account and "
       "project."),
    _S("PROXYERRORS_REDIS_TIMEOUT", 1.0,
       "Seconds a Redis call of `RedisState` may take. When Redis is slow or gone, the "
       "crawl goes on with what this process knows and counts the failures; it never "
       "blocks on Redis."),
    _S("PROXYERRORS_REPORT_FILE", None,
       "Also write the end-of-crawl report as JSON to this path."),
    _S("PROXYERRORS_REPORT_HTML", None,
       "Also write the end-of-crawl report as one self-contained HTML page to this path: "
       "a timeline of requests, provider errors by category and actions, pauses and stops "
       "as bands with their reasons, per-route health, and the rules that fired with their "
       "meaning and fix. Memory stays bounded (time buckets); no secret is written."),
    _S("PROXYERRORS_CONNECT_BODY_TIMEOUT", 2.0,
       "How long, in seconds, the HTTPS handler waits for the body of a refused `CONNECT` "
       "reply before failing the request with what arrived."),
    _S("PROXYERRORS_HTTPS_FALLBACK_HANDLER", None,
       "The `https` download handler the plugin's handler builds and intercepts. The "
       "add-on writes here whatever `https` handler the project configured, so it stays "
       "in use underneath; `None` means Scrapy's HTTP/1.1 handler."),
    _S("PROXYERRORS_HTTPCACHE_INNER_POLICY", "scrapy.extensions.httpcache.DummyPolicy",
       "The HTTP cache policy that `scrapy_proxyerrors.cache.ProviderErrorsCachePolicy` "
       "wraps. The add-on writes the project's `HTTPCACHE_POLICY` here; the wrapper never "
       "stores or serves a provider error."),
    _S("PROXYERRORS_REDACT_LOGS", True,
       "Also mask credentials and API keys in Scrapy's own request log lines (`Crawled`, "
       "`Retrying`, `Error downloading`...). The plugin's own logs are always masked."),
)

#: Scrapy settings the plugin reads, with what they mean for it.
SCRAPY_SETTINGS: tuple[tuple[str, str], ...] = (
    ("RETRY_ENABLED", "`False`: no retries, as with stock Scrapy, unless "
                      "`PROXYERRORS_MAX_RETRIES` is set."),
    ("RETRY_TIMES", "the retry budget of `retry` and `rotate` (not of throttling)."),
    ("RETRY_HTTP_CODES", "codes retried when no provider signal is present, as in stock "
                         "Scrapy."),
    ("RETRY_EXCEPTIONS", "exceptions retried, as in stock Scrapy."),
    ("RETRY_PRIORITY_ADJUST", "priority change of a retried request, as in stock Scrapy."),
    ("RETRY_GIVE_UP_LOG_LEVEL", "level of the \"Gave up retrying\" line, as in stock Scrapy."),
    ("JOBDIR", "with it, requests held back at a stop are kept for the resumed crawl."),
)

_K = StatsKey

STATS: tuple[StatsKey, ...] = (
    _K("proxyerrors/error/<provider>/<code>",
       "Classified provider errors, by provider and code (the status when there is none)."),
    _K("proxyerrors/category/<category>", "The same errors, by category."),
    _K("proxyerrors/action/<action>", "Decisions taken, by action."),
    _K("proxyerrors/decision/<provider>/<code>/<action>",
       "Decisions per code: the report's source for \"what was done\"."),
    _K("proxyerrors/escalated/<action>",
       "Waits longer than `PROXYERRORS_MAX_WAIT` turned into `drop` or `stop`."),
    _K("proxyerrors/retry/count", "Provider retries (`retry/*` keeps counting non-provider "
                                  "retries, as in stock Scrapy)."),
    _K("proxyerrors/retry/reason_count/<reason>", "Provider retries by reason."),
    _K("proxyerrors/retry/max_reached", "Requests that gave up after their retry budget."),
    _K("proxyerrors/wait_seconds", "Total seconds requests waited (backoff and provider waits).",
       "seconds"),
    _K("proxyerrors/route/cooldowns", "Routes rested after a failure."),
    _K("proxyerrors/route/pauses", "Route or account pauses (`Retry-After`, rate limits)."),
    _K("proxyerrors/rotate/proxy", "Retries moved to another proxy of the pool."),
    _K("proxyerrors/rotate/session", "Retries given a fresh sticky-session id."),
    _K("proxyerrors/rotate/budget",
       "Retries moved off a failed route on the rotation budget "
       "(`PROXYERRORS_ROTATE_TIMES`), not `RETRY_TIMES`."),
    _K("proxyerrors/rotate/same_route",
       "Rotations that had no other route to go to (the same route was used again)."),
    _K("proxyerrors/ratelimit/preemptive_pauses",
       "Pauses because `X-RateLimit-Remaining` reached 0, before any 429."),
    _K("proxyerrors/retry_after/too_long",
       "Non-provider retries skipped because `Retry-After` exceeded "
       "`PROXYERRORS_MAX_WAIT`."),
    _K("proxyerrors/throttle/count", "Attempts on the throttle budget (not `RETRY_TIMES`)."),
    _K("proxyerrors/throttle/gave_up", "Requests given up when their throttle budget ran out."),
    _K("proxyerrors/ratelimit/provoked",
       "429s received: some providers block clients that keep provoking them."),
    _K("proxyerrors/pacing/<account>/rate", "The learned pacing rate of an account, "
                                            "requests per second.", "value"),
    _K("proxyerrors/pacing/sites",
       "Sites paced by their own limit (`<account>|<host>`; counted, not given a rate "
       "stat each: a broad crawl has one per site). A site paced again after its "
       "rate expired counts again."),
    _K("proxyerrors/concurrency/<account>/limit",
       "The adaptive concurrency limit of an account (lowered by concurrency errors).",
       "value"),
    _K("proxyerrors/concurrency/decreases", "Concurrency errors that lowered a limit."),
    _K("proxyerrors/breaker/opened", "Circuit breakers opened by a provider outage."),
    _K("proxyerrors/breaker/probes", "Probes sent through an open breaker."),
    _K("proxyerrors/breaker/outages", "Outage windows (breaker open until a probe succeeded)."),
    _K("proxyerrors/breaker/outage_seconds", "Total length of the outage windows.", "seconds"),
    _K("proxyerrors/corroboration/probes",
       "CONNECT probes sent to corroborate a plain-HTTP stop or account pause (one per "
       "proxy and credentials at a time, remembered for 30 s)."),
    _K("proxyerrors/corroboration/confirmed",
       "Plain-HTTP stops or account pauses the proxy's own CONNECT reply confirmed."),
    _K("proxyerrors/corroboration/refuted",
       "Plain-HTTP stops or account pauses the proxy's CONNECT reply did not confirm "
       "(capped at pass/retry/rotate: a target's reply, forwarded, cannot stop the crawl)."),
    _K("proxyerrors/redis/errors",
       "`RedisState`: failed Redis calls (the crawl went on with local state; one warning)."),
    _K("proxyerrors/redis/writes", "`RedisState`: state changes sent to Redis."),
    _K("proxyerrors/redis/events_received",
       "`RedisState`: changes received from other processes of the namespace."),
    _K("proxyerrors/redis/stop_from",
       "`RedisState`: where a stop received from another process came from "
       "(`provider/code`, never a credential).", "value"),
    _K("proxyerrors/scheduler/parked",
       "Requests parked outside the downloader (holding no concurrency unit) to wait."),
    _K("proxyerrors/scheduler/released", "Parked requests handed back to the engine when due."),
    _K("proxyerrors/scheduler/recalled",
       "Requests taken back from a download slot's queue by a pause or a stop."),
    _K("proxyerrors/scheduler/intake_held",
       "Times the engine asked Scrapy's scheduler for a request while twice "
       "`CONCURRENT_REQUESTS` requests (at least 16) waited for a proxy's first answer, "
       "and got none: the rest wait in Scrapy's queue (and `JOBDIR`), not in memory here."),
    _K("proxyerrors/session/replaced", "Dead sticky sessions replaced (once each)."),
    _K("proxyerrors/session/moved",
       "Requests still carrying a dead session moved to its replacement."),
    _K("proxyerrors/dropped", "Requests dropped; their errbacks got `ProviderErrorDropped`."),
    _K("proxyerrors/stop/reason", "The finish reason of a stop (`proxyerrors_<category>`).",
       "value"),
    _K("proxyerrors/stop/error", "The `provider/code` that caused the stop.", "value"),
    _K("proxyerrors/stop/requeued",
       "Requests held back by the stop (kept for the resumed crawl when `JOBDIR` is set)."),
)

_M = MetaKey

META: tuple[MetaKey, ...] = (
    _M("proxyerrors_provider", "in", "The profile name for this request (beats "
                                     "`PROXYERRORS_PROVIDER`)."),
    _M("dont_proxyerrors", "in", "No classification for this request: stock Scrapy retry "
                                 "behaviour."),
    _M("proxyerrors_throttle_max_time", "in",
       "This request's throttle budget in seconds (beats `PROXYERRORS_THROTTLE_MAX_TIME`, "
       "as `max_retry_times` beats `RETRY_TIMES`), by the setting's rule (a number >= 0, "
       "`inf` for none); a value the setting would refuse is ignored (the first of each "
       "key is logged)."),
    _M("proxyerrors_throttle_max_count", "in",
       "This request's most throttle waits (beats `PROXYERRORS_THROTTLE_MAX_COUNT`), by "
       "the setting's rule (an integer >= 1); a value the setting would refuse is ignored "
       "(the first of each key is logged)."),
    _M("proxyerrors_rotate_times", "in",
       "This request's most moves off failed routes (beats `PROXYERRORS_ROTATE_TIMES`), "
       "by the setting's rule (an integer >= 0; none with `RETRY_ENABLED = False`, as "
       "the setting); a value the setting would refuse is ignored (the first of each "
       "key is logged)."),
    _M("proxyerrors_route", "out", "The route the request used: `host:port`, or "
                                   "`host:port~session` for a sticky session. Never a "
                                   "credential."),
    _M("proxyerrors_error", "out", "The last classified `ProviderError` of this request "
                                   "(e.g. a warning that was passed on)."),
)

#: Finish reasons a stop gives the crawl.
FINISH_REASONS: tuple[str, ...] = tuple(f"proxyerrors_{c.value}" for c in Category)

#: Every setting's default, keyed by name (`_config.DEFAULTS` is this).
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


def stats_pattern_for(key: str) -> StatsKey | None:
    """The declared pattern a concrete stats key belongs to, if any."""
    for entry in STATS:
        if entry.regex().match(key):
            return entry
    return None
