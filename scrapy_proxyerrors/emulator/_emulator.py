"""The emulator: proxy gateways, per-IP proxies or an API, plus a target site.

Each request goes through one pipeline (:meth:`Emulator._decide`): the test's
responder, credentials, rate limit, concurrency, the provider's own input
checks, the scenario's faults, then the budget; the first step that objects
answers with the provider's documented reply for its code.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import itertools
import logging
import math
import re
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import SplitResult, parse_qs, quote, urlsplit

from . import _site
from ._http import (
    HOP_BY_HOP,
    Closed,
    Conn,
    HTTPError,
    Message,
    parse_head,
    read_body,
    wants_close,
)
from ._providers import DEFAULT_PROVIDER, SPECS
from ._scenario import (
    COMMON_PARAMS,
    PROVIDER_PARAMS,
    Budget,
    ConcurrencyLimit,
    Countdown,
    DeadSession,
    Dice,
    Outage,
    Sessions,
    SlidingWindow,
    Windows,
    scenario_params,
)
from ._server import GONE, Listener, Registry
from ._spec import ApiCall, Incoming, Memory, ProviderSpec, format_seconds
from ._tls import server_context
from ._types import Kind, Reply, RequestRecord, reason_phrase

logger = logging.getLogger(__name__)

Responder = Callable[[RequestRecord], "Reply | None"]

#: Hosts that are forwarded to as they are; any other host is served by the
#: emulator's own target site, so nothing ever leaves loopback.
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: How long the proxy waits for an upstream (the local target) to answer.
_UPSTREAM_TIMEOUT = 30.0
_instances = itertools.count(1)


@dataclass(frozen=True)
class _Role:
    """What a listener serves."""

    kind: Literal["proxy", "api", "target"]
    port: int
    #: The index of the port in ``proxy_urls()`` (the IP of a per-IP batch).
    ip: int = 0
    https: bool = False


@dataclass
class _ConnState:
    """Per client connection: pooled upstream connections, pending CONNECT error."""

    upstreams: dict[tuple[str, int], Conn] = field(default_factory=dict)
    connect_error_seq: int | None = None


@dataclass
class _Ticket:
    """What the pipeline decided for one request."""

    code: str | None = None
    kw: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    charged: bool = False
    #: The rate window's state after this request, for ``X-RateLimit-*``.
    remaining: int | None = None
    #: The scenario (not a provider check) refused this request.
    scenario: bool = False

    def refuse(self, code: str | None, **kw: Any) -> None:
        """The scenario refuses the request with *code*."""
        self.code = code
        self.kw.update(kw)
        self.scenario = True


def _release(ticket: _Ticket) -> None:
    """Free what the request held (its place under a concurrency limit) once
    its reply is ready, before the reply is written: over loopback, a client
    that reads the reply can send its next request before this thread runs
    again, which a real provider, a round trip away, never sees."""
    cleanups, ticket.cleanups = ticket.cleanups, []
    for cleanup in cleanups:
        cleanup()


def basic_credentials(value: str | None) -> tuple[str | None, str | None]:
    """``(user, password)`` from a Basic ``Proxy-Authorization`` value.

    Missing: ``(None, None)``. Present but unreadable: ``("", "")``, which
    no account matches.
    """
    if value is None:
        return None, None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password


def session_of(user: str | None, param: str | None) -> str | None:
    """The session id in a username: the token after ``<param>``."""
    if not user or not param:
        return None
    # ``package-1-sessionid-abc``, or options separated by commas too
    # (``groups-RESIDENTIAL,session-abc``).
    tokens = re.split(r"[-,]", user)
    for index, token in enumerate(tokens[:-1]):
        if token == param and tokens[index + 1]:
            return tokens[index + 1]
    return None


def key_id(key: str | None) -> str:
    """A stable, non-secret name for an API key."""
    if not key:
        return "anonymous"
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


class Emulator:
    """A local emulator of one proxy provider or scraping API.

    Serves on ephemeral ports of 127.0.0.1 from daemon threads, independent
    of any Twisted reactor. See ``docs/emulator.md`` for the scenarios.

    *provider*: a name from :data:`SPECS`. *scenario*: a name from
    :data:`SCENARIOS`; *params* are the scenario's parameters. *user* and *password* are the
    account's credentials (for APIs, *password* is the API key).
    *max_records* keeps only the latest records (the counters count them
    all), for long-running sessions; ``None`` keeps every record.
    """

    def __init__(
        self,
        provider: str = DEFAULT_PROVIDER,
        scenario: str = "ok",
        seed: int = 0,
        *,
        user: str = "user",
        password: str = "secret",
        port: int = 0,
        target_port: int = 0,
        tls_port: int = 0,
        max_records: int | None = None,
        **params: Any,
    ) -> None:
        if provider not in SPECS:
            raise ValueError(f"unknown provider {provider!r}; known: {', '.join(SPECS)}")
        self.provider = provider
        self.scenario = scenario
        self.seed = seed
        self.user = user
        self.password = password
        self.params: dict[str, Any] = scenario_params(scenario, params)
        #: Prefix of this emulator's thread names (``emulator3-proxy0-40123``).
        self.name = f"emulator{next(_instances)}"
        self._spec: ProviderSpec = SPECS[provider]
        self._ports = (port, target_port, tls_port)
        self._scenario_code = self._check_scenario()
        self._dice = Dice(seed)
        self._ids = Dice(f"{seed}:request-ids")
        self._lock = threading.Lock()
        self._records: dict[int, RequestRecord] = {}
        self._max_records = max_records
        self._next = 0
        self._counts: Counter[tuple[str, Any]] = Counter()
        self._responder: Responder | None = None
        self._memory = Memory()
        self._registry = Registry()
        self._listeners: list[Listener] = []
        self._proxy_ports: list[int] = []
        self._api_port: int | None = None
        self._target_port: int | None = None
        self._tls_port: int | None = None
        self._started = False
        self._stopped = False

        self._window: SlidingWindow | None = None
        self._enforce_rate = scenario == "ratelimit"
        if self._enforce_rate:
            self._window = SlidingWindow(self.params["limit"], self.params["window"])
        elif self._spec.rate_window is not None:
            self._window = SlidingWindow(*self._spec.rate_window)
        self._concurrency = (
            ConcurrencyLimit(self.params["max_concurrent"]) if scenario == "concurrency" else None
        )
        self._budget = Budget(self.params["credits"]) if scenario == "budget" else None
        self._sessions = Sessions(self.params["node_lifetime"]) if scenario == "sticky" else None
        params = self.params
        self._dead = DeadSession(params["session"], params["after"]) \
            if scenario == "dead_session" else None
        self._outage = Outage(params["duration"], params["after"]) if scenario == "outage" \
            else None
        self._revoked = Countdown(params["after"]) if scenario == "revoked" else None
        self._sites = SlidingWindow(params["limit"], params["window"]) \
            if scenario == "site_limit" else None
        self._down = Windows(params["unavailable_for"]) if scenario == "pool" else None
        #: Scenario counters (``counters["scenario"]``); tuple keys are nested.
        self._scen: Counter[Any] = Counter()
        self._sessions_seen: set[str] = set()
        self._first_refusal: int | None = None
        #: Sockets bound for the pool's refused ports (closed by stop()).
        self._held: list[socket.socket] = []

    # --- configuration checks ------------------------------------------------

    def _check_scenario(self) -> str | None:
        """The code this scenario answers with; fail early if there is none."""
        spec, params, scenario = self._spec, self.params, self.scenario
        override = params["code"] or None
        if override is not None:
            spec.find(override)
        for code in params.get("codes", ()):
            spec.find(code)
        if scenario == "flaky" and not params["codes"] and not spec.transient:
            raise ValueError(f"{self.provider} documents no transient error: "
                             "pass codes=<some of its codes>")
        if scenario == "isp" and not spec.per_ip:
            per_ip = ", ".join(name for name, other in SPECS.items() if other.per_ip)
            raise ValueError(f"scenario isp is for batches with one port per IP ({per_ip})")
        if scenario == "pool" and spec.kind != "proxy":
            raise ValueError(f"scenario pool is for proxies; {self.provider} is an API")
        if scenario == "dead_session" and spec.session_param is None:
            raise ValueError(f"{self.provider} has no sticky sessions")
        if scenario == "sticky" and spec.session_param is None and override is None:
            raise ValueError(f"{self.provider} has no sticky sessions")
        for name in PROVIDER_PARAMS:
            if params[name] != COMMON_PARAMS[name] and name not in spec.takes:
                takers = ", ".join(n for n, other in SPECS.items() if name in other.takes)
                raise ValueError(f"{name} is for {takers}, not {self.provider}")
        if spec.per_ip:
            bad = [i for i in params.get("bad_ips", ()) if not 0 <= i < params["ips"]]
            if bad:
                raise ValueError(f"bad_ips {bad} out of range for ips={params['ips']}")
        default = {
            "ok": None,
            "flaky": None,
            "budget": spec.quota,
            "ratelimit": spec.rate_limit,
            "concurrency": spec.concurrency,
            "sticky": spec.node_dead,
            "isp": spec.bad_ip,
            "auth_failed": spec.auth_wrong,
            "pool": spec.unavailable,
            "dead_session": spec.node_dead,
            "outage": spec.internal,
            "revoked": spec.revoked or spec.auth_wrong,
            "site_limit": spec.site_limit,
        }[scenario]
        quiet = ("ok", "flaky") + (("pool",) if not params.get("unavailable") else ())
        if scenario not in quiet and override is None and default is None:
            raise ValueError(
                f"{self.provider} documents no error for scenario {scenario!r}; "
                "pass code=<one of its codes>"
            )
        return override or default

    # --- life cycle -----------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the ports and serve from background threads; returns ``self``."""
        if self._stopped:
            raise RuntimeError("a stopped emulator cannot be restarted: make a new one")
        if self._started:
            return self
        self._started = True
        port, target_port, tls_port = self._ports
        try:
            target = self._listen("target", _Role("target", 0), target_port)
            self._target_port = target.port
            tls = self._listen("target-tls", _Role("target", 0, https=True), tls_port,
                               tls=True)
            self._tls_port = tls.port
            if self._spec.kind == "api":
                api = self._listen("api", _Role("api", 0), port)
                self._api_port = api.port
            else:
                count = self.params["ips"] if self._spec.per_ip else 1
                if self.scenario == "pool":
                    count = self.params["size"]
                for index in range(count):
                    wanted = port + index if port else 0
                    if index in self.params.get("refused", ()):
                        self._proxy_ports.append(self._hold_closed_port(wanted))
                        continue
                    listener = self._listen(
                        f"proxy{index}", _Role("proxy", 0, ip=index), wanted,
                        hang=index in self.params.get("hanging", ()),
                    )
                    self._proxy_ports.append(listener.port)
            for listener in self._listeners:
                listener.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _hold_closed_port(self, port: int) -> int:
        """A port bound but never listened on: connecting to it is refused
        (the kernel answers RST), and nothing else can take it meanwhile."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            raise
        self._held.append(sock)
        return int(sock.getsockname()[1])

    def _listen(self, name: str, role: _Role, port: int, tls: bool = False,
                hang: bool = False) -> Listener:
        holder: list[_Role] = []

        def handler(sock: socket.socket) -> None:
            if hang:
                self._serve_hanging(sock, holder[0])
            else:
                self._serve_conn(sock, holder[0])

        listener = Listener(f"{self.name}-{name}", handler, self._registry, port=port,
                            tls=server_context() if tls else None)
        holder.append(replace(role, port=listener.port))
        self._listeners.append(listener)
        return listener

    def stop(self) -> None:
        """Stop serving: close every listener, connection and thread."""
        if self._stopped:
            return
        self._stopped = True
        self._registry.closing.set()
        for listener in self._listeners:
            listener.stop()
        for sock in self._held:
            sock.close()
        self._registry.close_all()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"<Emulator {self.provider}/{self.scenario} "
                f"ports={self._proxy_ports or [self._api_port]}>")

    # --- URLs -----------------------------------------------------------------

    def _need_started(self) -> None:
        if not self._started or self._target_port is None:
            raise RuntimeError("call start() first")

    def proxy_urls(self, user: str | None = None, password: str | None = None) -> list[str]:
        """Proxy URLs with credentials: one per port (the IPs of a per-IP
        batch, the ports of a pool), else one."""
        self._need_started()
        if self._spec.kind == "api":
            raise ValueError(f"{self.provider} is an API, not a proxy: use api_url()")
        if self._spec.user_match == "key":
            # The key is the username, the password empty.
            user = self.password if user is None else user
            password = "" if password is None else password
        user = self.user if user is None else user
        password = self.password if password is None else password
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}@"
        return [f"http://{auth}127.0.0.1:{port}" for port in self._proxy_ports]

    def proxy_url(self, user: str | None = None, password: str | None = None) -> str:
        """The (first) proxy URL, ``http://user:password@127.0.0.1:PORT``."""
        return self.proxy_urls(user, password)[0]

    def target_url(self, path: str = "/", https: bool = False, host: str | None = None) -> str:
        """A URL of the local target site.

        With *host* (``"example.com"``) the URL names that host on the
        default port; fetched through the emulator's proxy it is still
        served by the local target, so nothing leaves loopback.
        """
        self._need_started()
        if not path.startswith("/"):
            path = "/" + path
        scheme = "https" if https else "http"
        if host is not None:
            return f"{scheme}://{host}{path}"
        return f"{scheme}://127.0.0.1:{self._tls_port if https else self._target_port}{path}"

    def api_url(self, path: str = "/", *, key: bool = True) -> str:
        """A URL of the emulated API.

        With *key* the account's key (``password``) is the first query
        parameter, under the provider's name for it (``api_key=...``).
        First, so that the URL still ends with the caller's own parameters.
        """
        self._need_started()
        if self._api_port is None:
            raise ValueError(f"{self.provider} is a proxy, not an API: use proxy_url()")
        if not path.startswith("/"):
            path = "/" + path
        name = self._spec.key_param
        if key and name and f"{name}=" not in path:
            bare, _, query = path.partition("?")
            param = f"{name}=" + quote(self.password, safe="")
            path = f"{bare}?{param}" + (f"&{query}" if query else "")
        return f"http://127.0.0.1:{self._api_port}{path}"

    def api_headers(self) -> dict[str, str]:
        """Headers that authenticate to the API the documented way, where it
        documents a header for its key; else ``{}``."""
        header, scheme = self._spec.key_header, self._spec.key_scheme
        if not header:
            return {}
        return {header: f"{scheme} {self.password}" if scheme else self.password}

    @property
    def ports(self) -> dict[str, Any]:
        """Every bound port: ``proxy`` (a list), ``api``, ``target``, ``tls``."""
        return {"proxy": list(self._proxy_ports), "api": self._api_port,
                "target": self._target_port, "tls": self._tls_port}

    # --- test hooks -------------------------------------------------------------

    def set_responder(self, fn: Responder | None) -> None:
        """Answer requests with *fn(record)* when it returns a Reply.

        Called for every request to the provider (``record.kind`` is
        ``plain``, ``connect`` or ``api``; never for the target site) before
        the scenario, from the serving thread, so *fn* must be thread-safe.
        ``None`` from *fn* means normal behaviour; ``set_responder(None)``
        removes it. A ``2xx`` reply to CONNECT opens the tunnel.
        """
        self._responder = fn

    def error_reply(self, code_or_status: str | int, **kw: Any) -> Reply:
        """The provider's documented reply for a code or status.

        Keywords (each provider uses those its replies carry): ``detail``,
        ``body``, ``message``, ``details``, ``request_id`` (default: a fresh
        one, for providers that send one), ``retry_after``,
        ``limit``/``remaining``/``window``/``reset`` (rate-limit state) and
        ``headers`` (extra headers). See docs/emulator.md.
        """
        for name in self._spec.takes:
            kw.setdefault(name, self.params[name])
        if "request_id" not in kw:
            request_id = self._request_id()
            if request_id is not None:
                kw["request_id"] = request_id
        return self._spec.reply(code_or_status, **kw)

    def _request_id(self) -> str | None:
        prefix = self._spec.request_id_prefix
        return None if prefix is None else prefix + self._ids.hex(12)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return sorted(self._records.values(), key=lambda r: r.seq)

    @property
    def counters(self) -> dict[str, Any]:
        """``total``, ``by_kind``, ``by_route``, ``by_status`` (keyed by
        ``(status, code)``), ``client_closed`` and ``errors``."""
        with self._lock:
            counts = dict(self._counts)
        out: dict[str, Any] = {"total": 0, "by_kind": {}, "by_route": {}, "by_status": {},
                               "client_closed": 0, "errors": 0}
        for (group, key), value in counts.items():
            if group in ("total", "client_closed", "errors"):
                out[group] = value
            else:
                out[group][key] = value
        out["scenario"] = self._scenario_counters()
        return out

    def _scenario_counters(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._scen)
            out: dict[str, Any] = {
                "refused": 0, "after_first_refusal": 0,
                "first_refusal_seq": self._first_refusal,
                "sessions": len(self._sessions_seen),
            }
        for key, value in counts.items():
            if isinstance(key, tuple):
                out.setdefault(key[0], {})[key[1]] = value
            else:
                out[key] = value
        if self._concurrency is not None:
            out["peak"] = max(self._concurrency.peak.values(), default=0)
        if self._dead is not None:
            out["dead_session"] = self._dead.session
        if self._outage is not None:
            out["outage_start"], out["outage_end"] = self._outage.start, self._outage.end
        if self.scenario == "site_limit":
            out.setdefault("requests_by_site", {})
            out.setdefault("refused_by_site", {})
        return out

    def _tally(self, rec: RequestRecord, ticket: _Ticket) -> None:
        """Scenario counters for one decided provider request."""
        with self._lock:
            if rec.session:
                self._sessions_seen.add(rec.session)
            first = self._first_refusal
            if first is not None and rec.seq > first:
                self._scen["after_first_refusal"] += 1
            if ticket.scenario:
                self._scen["refused"] += 1
                if first is None:
                    self._first_refusal = rec.seq

    def _count(self, key: Any, n: int = 1) -> None:
        with self._lock:
            self._scen[key] += n

    @property
    def credits(self) -> int | None:
        """Credits left in the budget scenario, else ``None``."""
        return self._budget.left if self._budget is not None else None

    def refill(self, credits: int | None = None) -> None:
        """Budget scenario: add *credits*, or top up to the initial amount."""
        if self._budget is None:
            raise RuntimeError("refill() needs the budget scenario")
        self._budget.refill(credits)

    def reset(self) -> None:
        """Forget every record and counter (scenario state is kept)."""
        with self._lock:
            self._records.clear()
            self._counts.clear()
            self._scen.clear()
            self._sessions_seen.clear()
            self._first_refusal = None

    def wait_for(self, predicate: Callable[[list[RequestRecord]], bool],
                 timeout: float = 5.0) -> bool:
        """Poll the records until *predicate(records)* holds; ``False`` on timeout.

        For facts recorded after the reply, such as ``client_closed``.
        """
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self.requests):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    # --- records ----------------------------------------------------------------

    def _new_record(self, t0: float, route: str, kind: Kind, method: str, url: str,
                    msg: Message | None, user: str | None = None,
                    password: str | None = None, session: str | None = None) -> RequestRecord:
        with self._lock:
            seq = self._next
            self._next += 1
        headers = msg.header_dict() if msg is not None else {}
        return RequestRecord(seq, t0, route, kind, method, url, headers, user, password, session,
                             wall=time.time())

    def _finish(self, rec: RequestRecord, reply: Reply, code: str | None = None, *,
                derive: bool = False) -> RequestRecord:
        """Store the record with what was answered; before sending, so that a
        client that has read the reply always finds the record.

        *derive*: read the code back from the reply (a responder's reply, a
        reply to broken HTTP), since no code was chosen for it.
        """
        if derive and rec.kind != "target":
            code = self._spec.code_of(reply)
        return self._store(replace(rec, status=reply.status, code=code))

    def _store(self, done: RequestRecord) -> RequestRecord:
        with self._lock:
            self._records[done.seq] = done
            if self._max_records is not None and len(self._records) > self._max_records:
                # Oldest answered first: dicts keep insertion order.
                del self._records[next(iter(self._records))]
            self._counts[("total", None)] += 1
            self._counts[("by_kind", done.kind)] += 1
            self._counts[("by_route", done.route)] += 1
            self._counts[("by_status", (done.status, done.code))] += 1
        return done

    def _mark_closed(self, seq: int) -> None:
        with self._lock:
            rec = self._records.get(seq)
            if rec is not None and not rec.client_closed:
                self._records[seq] = replace(rec, client_closed=True)
                self._counts[("client_closed", None)] += 1

    def _respond(self, rec: RequestRecord) -> Reply | None:
        responder = self._responder
        if responder is None:
            return None
        try:
            return responder(rec)
        except Exception:
            logger.exception("emulator responder failed")
            with self._lock:
                self._counts[("errors", None)] += 1
            return Reply(500, [("Content-Type", "text/plain")], b"emulator responder failed\n")

    # --- the connection loop ------------------------------------------------------

    def _serve_conn(self, sock: socket.socket, role: _Role) -> None:
        conn = Conn(sock)
        state = _ConnState()
        peer_left = False
        try:
            while True:
                try:
                    head = conn.read_head()
                except HTTPError as exc:
                    self._malformed(conn, role, exc)
                    return
                except Closed:
                    peer_left = True
                    return
                if head is None:
                    peer_left = True
                    return
                t0 = time.monotonic()
                # A new request after a refused CONNECT: the client kept the
                # connection, so that refusal was not followed by a close.
                state.connect_error_seq = None
                try:
                    msg = parse_head(head)
                except HTTPError as exc:
                    self._malformed(conn, role, exc)
                    return
                close_after = wants_close(msg)
                body = b""
                if "100-continue" in msg.tokens("Expect") and role.kind == "proxy" \
                        and self._spec.refuses_expect:
                    # Answered 417 without reading the body, which may still
                    # arrive: this connection cannot be reused.
                    close_after = True
                else:
                    if "100-continue" in msg.tokens("Expect"):
                        conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    try:
                        body, _ = read_body(conn, msg)
                    except HTTPError as exc:
                        self._malformed(conn, role, exc, msg)
                        return
                if role.kind == "target":
                    keep = self._handle_target(role, conn, msg, body, t0, close_after)
                elif role.kind == "api":
                    keep = self._handle_api(role, conn, state, msg, body, t0, close_after)
                else:
                    keep = self._handle_proxy(role, conn, state, msg, body, t0, close_after)
                if not keep or close_after:
                    return
        except Closed:
            peer_left = True
        finally:
            for upstream in state.upstreams.values():
                self._registry.discard_socket(upstream.sock)
            if peer_left and state.connect_error_seq is not None \
                    and not self._registry.closing.is_set():
                self._mark_closed(state.connect_error_seq)

    def _serve_hanging(self, sock: socket.socket, role: _Role) -> None:
        """A proxy port that accepts, reads the request and never answers.

        The request is recorded (status 0, code ``hanging``); when the client
        gives up and closes the socket, the record gets ``client_closed``.
        """
        conn = Conn(sock)
        self._count("hanging_connections")
        seqs: list[int] = []
        try:
            head = conn.read_head()
            if head is None:
                return
            msg = parse_head(head)
            method, target, _ = msg.start
            user, password = basic_credentials(msg.get("Proxy-Authorization"))
            session = session_of(user, self._spec.session_param)
            route = f"127.0.0.1:{role.port}" + (f"#{session}" if session else "")
            kind: Kind = "connect" if method == "CONNECT" else "plain"
            rec = self._new_record(time.monotonic(), route, kind, method, target, msg, user,
                                   password, session)
            self._store(replace(rec, code="hanging"))
            seqs.append(rec.seq)
            self._count("hanging")
            # Swallow whatever else comes (a body, more requests) until EOF.
            while sock.recv(65536):
                pass
        except (HTTPError, Closed, *GONE):
            pass
        finally:
            if seqs and not self._registry.closing.is_set():
                self._count("hanging_closed")
                for seq in seqs:
                    self._mark_closed(seq)

    def _send(self, conn: Conn, reply: Reply, *, head_only: bool = False,
              tunnel: bool = False, close: bool = False) -> None:
        conn.sock.sendall(reply.wire(head_only=head_only, tunnel=tunnel, close=close))

    def _bad_request_reply(self, role: _Role, status: int) -> Reply:
        if status == 400 and role.kind == "api":
            return self.error_reply(self._spec.bad_request)
        if status == 400 and role.kind == "proxy" and \
                any(err.code == "400" for err in self._spec.errors):
            # Some proxies document their reply to broken HTTP (a 400 of
            # their own); the others get a bare 400.
            return self.error_reply(400)
        return Reply(status, [("Content-Type", "text/plain")],
                     f"{status} {reason_phrase(status)}\n".encode())

    def _malformed(self, conn: Conn, role: _Role, exc: HTTPError,
                   msg: Message | None = None) -> None:
        kinds: dict[str, Kind] = {"proxy": "plain", "api": "api", "target": "target"}
        kind = kinds[role.kind]
        method, url = (msg.start[0], msg.start[1]) if msg is not None else ("", "")
        rec = self._new_record(time.monotonic(), f"127.0.0.1:{role.port}", kind, method, url, msg)
        reply = self._bad_request_reply(role, exc.status)
        self._finish(rec, reply, derive=True)
        with contextlib.suppress(*GONE):
            self._send(conn, reply, close=True)

    # --- the target site ------------------------------------------------------------

    def _handle_target(self, role: _Role, conn: Conn, msg: Message, body: bytes,
                       t0: float, close_after: bool) -> bool:
        method, target, _ = msg.start
        path = target
        parts = _split(target) if "://" in target else None
        if parts is not None:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        rec = self._new_record(t0, f"127.0.0.1:{role.port}", "target", method, path, msg)
        # No responder here: it overrides the provider, and the site is not
        # one (its /status/NNN pages answer any status a test needs).
        reply = _site.serve(method, path, rec.headers, body, self.params["pages"])
        self._finish(rec, reply)
        self._send(conn, reply, head_only=method == "HEAD", close=close_after)
        return True

    # --- the pipeline -----------------------------------------------------------------

    def _credentials_ok(self, user: str | None, password: str | None) -> bool:
        match = self._spec.user_match
        if match == "key" and self._spec.kind == "proxy":
            return user == self.password
        if password != self.password:
            return False
        if self._spec.kind == "api" or match == "any":
            return True
        if match == "prefix":
            # The username is the account name, then ``-modifiers``.
            return user == self.user or (user or "").startswith(self.user + "-")
        return user == self.user

    def _account(self, rec: RequestRecord, role: _Role) -> str:
        """The key limits are counted under: the account, or the IP."""
        if self._spec.per_ip:
            return str(role.port)
        if self._spec.user_match == "key" and rec.kind != "api":
            return rec.user or ""
        return rec.password or ""

    def _decide(self, rec: RequestRecord, role: _Role, msg: Message, ticket: _Ticket) -> None:
        """Fill *ticket* with the error code for this request, if any."""
        self._decide_steps(rec, role, msg, ticket)
        self._tally(rec, ticket)

    def _decide_steps(self, rec: RequestRecord, role: _Role, msg: Message,
                      ticket: _Ticket) -> None:
        spec, params, code = self._spec, self.params, self._scenario_code
        if self.scenario == "auth_failed":
            ticket.refuse(code)
            return
        if self._outage is not None:
            # The service itself is down: nothing else is looked at.
            if self._outage.down():
                ticket.refuse(code)
                return
            if self._outage.over():
                self._count("after_outage")
        if rec.password is None:
            ticket.code = spec.auth_missing
            return
        if not self._credentials_ok(rec.user, rec.password):
            ticket.code = spec.auth_wrong
            return
        if self._revoked is not None and self._revoked.expired():
            ticket.refuse(code)
            return
        key = self._account(rec, role)
        if self._window is not None:
            admitted, remaining, wait = self._window.acquire(key)
            ticket.remaining = remaining
            if not admitted and self._enforce_rate:
                # The window's state, for providers whose 429 carries it.
                ticket.refuse(code, retry_after=max(1, math.ceil(wait)),
                              limit=self._window.limit, remaining=0,
                              window=self._window.window,
                              reset=math.ceil(time.time() + wait))
                return
        if self._sites is not None:
            site = _target_host(rec)
            if site is not None and (not params["sites"] or site in params["sites"]):
                self._count(("requests_by_site", site))
                admitted, _, wait = self._sites.acquire(f"{key}|{site}")
                if not admitted:
                    self._count(("refused_by_site", site))
                    ticket.refuse(code, retry_after=max(1, math.ceil(wait)))
                    return
        if self._concurrency is not None:
            release = self._concurrency.acquire(key)
            if release is None:
                ticket.refuse(code, concurrency=self._concurrency.limit)
                return
            ticket.cleanups.append(release)
        invalid = self._validate(rec, msg)
        if invalid is not None:
            ticket.code = invalid
            return
        if self.scenario == "flaky":
            fault = self._dice.fault(_fault_key(rec), params["rate"],
                                     params["codes"] or spec.transient)
            if fault is not None:
                ticket.refuse(fault)
                return
        if self._sessions is not None and rec.session and not self._sessions.use(rec.session):
            # bind-node forbids a replacement node: a different code.
            if spec.bound_node_dead and spec.bound_node_token and not params["code"] \
                    and spec.bound_node_token in (rec.user or ""):
                code = spec.bound_node_dead
            ticket.refuse(code)
            return
        if self._dead is not None and rec.session and self._dead.dead(rec.session):
            ticket.refuse(code)
            return
        if self.scenario == "isp" and role.ip in params["bad_ips"]:
            ticket.refuse(code)
            return
        if self._down is not None and role.ip in params["unavailable"]:
            wait, first = self._down.wait(role.ip)
            if wait > 0:
                if not first:
                    # Sent inside a window this port already announced.
                    self._count("refused_in_window")
                ticket.refuse(code, retry_after=max(1, math.ceil(wait)))
                return
        if self._budget is not None:
            if self._budget.take():
                ticket.charged = True
            else:
                ticket.refuse(code)

    def _validate(self, rec: RequestRecord, msg: Message) -> str | None:
        """The provider's own checks of the request, as its docs describe them."""
        path, query = "", {}
        if rec.kind == "api":
            # API requests may come in absolute form: look at the parsed path.
            parts = _split(msg.start[1])
            if parts is None:
                return self._spec.bad_request
            path, query = parts.path, _query(parts.query, self._spec.key_param)
        validate = self._spec.validate
        if validate is None:
            return None
        kind: Literal["plain", "connect", "api"] = (
            "api" if rec.kind == "api" else "connect" if rec.kind == "connect" else "plain")
        return validate(Incoming(kind, rec.user or "", rec.session, rec.headers, path, query,
                                 self.params, self._memory))

    def _error(self, ticket: _Ticket) -> Reply:
        assert ticket.code is not None
        return self.error_reply(ticket.code, **ticket.kw)

    def _with_rate_headers(self, reply: Reply, ticket: _Ticket) -> Reply:
        """Every reply carries the window state, for providers that send it
        (unless the reply has its own)."""
        if self._spec.rate_window is None or self._window is None or \
                reply.header("X-RateLimit-Limit") is not None:
            return reply
        remaining = ticket.remaining if ticket.remaining is not None else self._window.limit
        headers = [
            *reply.header_items(),
            ("X-RateLimit-Limit", str(self._window.limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Window", format_seconds(self._window.window)),
        ]
        return replace(reply, headers=headers)

    def _pause(self) -> None:
        delay = self.params["delay"]
        if delay:
            # An event, not time.sleep: stop() must not wait for the delay.
            self._registry.closing.wait(delay)

    # --- proxies --------------------------------------------------------------------------

    def _handle_proxy(self, role: _Role, conn: Conn, state: _ConnState, msg: Message,
                      body: bytes, t0: float, close_after: bool) -> bool:
        method, target, _ = msg.start
        connect = method == "CONNECT"
        user, password = basic_credentials(msg.get("Proxy-Authorization"))
        session = session_of(user, self._spec.session_param)
        route = f"127.0.0.1:{role.port}" + (f"#{session}" if session else "")
        rec = self._new_record(t0, route, "connect" if connect else "plain", method, target,
                               msg, user, password, session)
        if not connect and (not target.lower().startswith(("http://", "https://"))
                            or _split(target) is None):
            # An origin-form request: a client that forgot it talks to a proxy.
            reply = self._bad_request_reply(role, 400)
            self._finish(rec, reply, derive=True)
            self._send(conn, reply, close=close_after)
            return True
        override = self._respond(rec)
        if override is not None:
            return self._answer_override(conn, state, rec, msg, override, close_after)
        ticket = _Ticket()
        try:
            self._decide(rec, role, msg, ticket)
            self._pause()
            if ticket.code is not None:
                reply = self._error(ticket)
                done = self._finish(rec, reply, ticket.code)
                if connect:
                    state.connect_error_seq = done.seq
                _release(ticket)
                self._send(conn, reply, head_only=method == "HEAD", close=close_after)
                return True
            if connect:
                return self._tunnel(conn, state, rec, target, ticket)
            forwarded = self._forward(state, msg, body)
            if forwarded is None:
                self._refund(ticket)
                reply = self.error_reply(self._spec.unreachable)
                self._finish(rec, reply, self._spec.unreachable)
            else:
                reply = forwarded
                self._finish(rec, reply, None)
            _release(ticket)
            self._send(conn, reply, head_only=method == "HEAD", close=close_after)
            return True
        finally:
            _release(ticket)

    def _refund(self, ticket: _Ticket) -> None:
        if ticket.charged and self._budget is not None:
            ticket.charged = False
            self._budget.give_back()

    def _answer_override(self, conn: Conn, state: _ConnState, rec: RequestRecord,
                         msg: Message, reply: Reply, close_after: bool) -> bool:
        if rec.kind == "connect" and 200 <= reply.status < 300:
            return self._tunnel(conn, state, rec, rec.url, _Ticket(), established=reply)
        done = self._finish(rec, reply, derive=True)
        if rec.kind == "connect":
            state.connect_error_seq = done.seq
        self._send(conn, reply, head_only=msg.start[0] == "HEAD", close=close_after)
        return True

    def _upstream_address(self, host: str, port: int | None, https: bool) -> tuple[str, int]:
        """Where a request for *host:port* really goes: loopback as asked,
        anything else to the emulator's own target site."""
        host = host.strip("[]").lower()
        assert self._target_port is not None and self._tls_port is not None
        if host in _LOOPBACK:
            return "127.0.0.1", port or (443 if https else 80)
        if https and port != 80:
            return "127.0.0.1", self._tls_port
        return "127.0.0.1", self._target_port

    def _open(self, address: tuple[str, int]) -> Conn | None:
        try:
            sock = socket.create_connection(address, timeout=_UPSTREAM_TIMEOUT)
        except OSError:
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self._registry.add_socket(sock):
            return None
        return Conn(sock)

    def _forward(self, state: _ConnState, msg: Message, body: bytes) -> Reply | None:
        """Relay a plain request to its target; ``None`` if it cannot be reached."""
        method, target, _ = msg.start
        try:
            parts = urlsplit(target)
            port = parts.port
        except ValueError:
            return None
        address = self._upstream_address(parts.hostname or "", port, False)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Expect was answered here already: the body is in hand.
        dropped = HOP_BY_HOP | msg.tokens("Connection") | {"content-length", "expect"}
        lines = [f"{method} {path} HTTP/1.1\r\n"]
        has_host = False
        for name, value in msg.headers:
            lower = name.lower()
            if lower in dropped:
                continue
            has_host = has_host or lower == "host"
            lines.append(f"{name}: {value}\r\n")
        if not has_host:
            lines.append(f"Host: {parts.netloc.rpartition('@')[2]}\r\n")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1") + body
        for attempt in (0, 1):
            upstream = state.upstreams.get(address)
            reused = upstream is not None
            if upstream is None:
                upstream = self._open(address)
                if upstream is None:
                    return None
                state.upstreams[address] = upstream
            try:
                upstream.sock.sendall(data)
                while True:
                    head = upstream.read_head()
                    if head is None:
                        raise Closed("upstream closed")
                    response = parse_head(head, response=True)
                    status = int(response.start[1])
                    if not 100 <= status < 200:
                        break  # 1xx replies are interim: the real one follows
                payload, spent = read_body(upstream, response, response_to=method,
                                           status=status)
            except (Closed, HTTPError, OSError):
                del state.upstreams[address]
                self._registry.discard_socket(upstream.sock)
                if reused and attempt == 0:
                    continue  # a pooled connection the target had closed
                return None
            if spent or "close" in response.tokens("Connection"):
                del state.upstreams[address]
                self._registry.discard_socket(upstream.sock)
            keep_length = method == "HEAD" or status in (204, 304)
            headers = [
                (name, value) for name, value in response.headers
                if name.lower() not in HOP_BY_HOP
                and (keep_length or name.lower() != "content-length")
            ]
            return Reply(status, headers, payload, response.start[2] or None)
        return None

    def _tunnel(self, conn: Conn, state: _ConnState, rec: RequestRecord, target: str,
                ticket: _Ticket, established: Reply | None = None) -> bool:
        """Open the tunnel for an admitted CONNECT and pipe it until it closes."""
        host, sep, port_text = target.rpartition(":")
        if not sep or not port_text.isdigit():
            reply = self._bad_request_reply(_Role("proxy", 0), 400)
            done = self._finish(rec, reply, derive=True)
            state.connect_error_seq = done.seq
            self._send(conn, reply)
            return True
        address = self._upstream_address(host, int(port_text), True)
        upstream = self._open(address)
        if upstream is None:
            self._refund(ticket)
            reply = self.error_reply(self._spec.unreachable)
            done = self._finish(rec, reply, self._spec.unreachable)
            state.connect_error_seq = done.seq
            self._send(conn, reply)
            return True
        reply = established or Reply(200, [], b"", "Connection established")
        self._finish(rec, reply, None)
        try:
            self._send(conn, reply, tunnel=True)
            _pipe(conn, upstream)
        finally:
            self._registry.discard_socket(upstream.sock)
        # The client connection carried a tunnel: it can never be reused.
        return False

    # --- APIs ------------------------------------------------------------------------------

    def _handle_api(self, role: _Role, conn: Conn, state: _ConnState, msg: Message,
                    body: bytes, t0: float, close_after: bool) -> bool:
        method, target, _ = msg.start
        parts = _split(target)
        if parts is None:
            self._malformed(conn, role, HTTPError(400, "bad request target"), msg)
            return False
        query = parse_qs(parts.query)
        key = self._api_key(msg, query)
        rec = self._new_record(t0, key_id(key), "api", method, target, msg, None, key)
        override = self._respond(rec)
        ticket = _Ticket()
        try:
            if override is not None:
                reply = self._with_rate_headers(override, ticket)
                self._finish(rec, reply, derive=True)
            else:
                self._decide(rec, role, msg, ticket)
                self._pause()
                if ticket.code is None:
                    reply = self._api_success(state, parts.path or "/", query, body, ticket)
                else:
                    reply = self._error(ticket)
                reply = self._with_rate_headers(reply, ticket)
                # A scrape's target failure is an error no ticket chose.
                self._finish(rec, reply, ticket.code, derive=ticket.code is None)
            _release(ticket)
            self._send(conn, reply, head_only=method == "HEAD", close=close_after)
            return True
        finally:
            _release(ticket)

    def _api_key(self, msg: Message, query: dict[str, list[str]]) -> str | None:
        """The API key, from the provider's header or its query parameter."""
        spec = self._spec
        key = msg.get(spec.key_header) if spec.key_header else None
        if key is not None and spec.key_scheme:
            scheme, _, token = key.strip().partition(" ")
            # Present but in another scheme: a key no account matches.
            key = token.strip() if scheme.lower() == spec.key_scheme.lower() else ""
        if key is None and spec.key_param:
            key = query.get(spec.key_param, [None])[0]
        return key

    def _api_success(self, state: _ConnState, path: str, query: dict[str, list[str]],
                     body: bytes, ticket: _Ticket) -> Reply:
        def fetch(url: str) -> Reply | None:
            return self._forward(state, Message(("GET", url, "HTTP/1.1"), []), b"")

        params = {k: v[0] for k, v in query.items() if k != self._spec.key_param}
        reply, billed = self._spec.answer(
            ApiCall(path, params, self._request_id(), fetch, self._spec, body))
        if not billed:
            self._refund(ticket)
        return reply


def _query(text: str, key_param: str | None) -> dict[str, str]:
    """A query's first values, without the API key."""
    return {k: v[0] for k, v in parse_qs(text).items() if k != key_param}


def _split(url: str) -> SplitResult | None:
    """``urlsplit``, or ``None`` for a URL it refuses (``http://[::1/``)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a bad port, like the hostname check
    except ValueError:
        return None
    return parts


def _target_host(rec: RequestRecord) -> str | None:
    """The target site's host name of a provider request: the proxied URL's,
    the CONNECT authority's, or an API's ``url=`` parameter's."""
    url = rec.url
    if rec.kind == "connect":
        return url.rpartition(":")[0].strip("[]").lower() or None
    if rec.kind == "api":
        parts = _split(url)
        if parts is None:
            return None
        url = parse_qs(parts.query).get("url", [""])[0]
    parts = _split(url)
    return parts.hostname if parts is not None and parts.hostname else None


def _fault_key(rec: RequestRecord) -> str:
    """The URL a flaky fault is tied to, without loopback's ephemeral port,
    so that a seed means the same faults on every run."""
    url = rec.url
    if rec.kind == "connect":
        tunnel_host = url.rpartition(":")[0].strip("[]").lower()
        return "CONNECT " + ("loopback" if tunnel_host in _LOOPBACK else url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return url
    if host is None or host in _LOOPBACK:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return url


def _pipe(client: Conn, upstream: Conn) -> None:
    """Copy bytes both ways until both sides are done (half-closes honoured)."""
    a, b = client.sock, upstream.sock
    leftover = client.take_buffer()
    if leftover:
        b.sendall(leftover)
    peer = {a: b, b: a}
    open_ = {a, b}
    with selectors.DefaultSelector() as selector:
        for sock in open_:
            selector.register(sock, selectors.EVENT_READ)
        while open_:
            for key, _ in selector.select():
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = src.recv(256 * 1024)
                except (BlockingIOError, InterruptedError):
                    continue
                except GONE:
                    return
                dst = peer[src]
                if not data:
                    selector.unregister(src)
                    open_.discard(src)
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except GONE:
                        return
                    continue
                try:
                    dst.sendall(data)
                except GONE:
                    return
