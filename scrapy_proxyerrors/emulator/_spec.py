"""The shape of an emulated provider: its documented errors, the hooks for
what it does its own way, and the readers and builders several share.

The engine (``_emulator.py``) knows providers only through these types; the
providers themselves are entries in ``_providers.py`` and
``_providers_more.py``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._types import Reply


@dataclass(frozen=True)
class ErrorDef:
    """One documented error: its status, its code, and its text.

    *text* is what the provider sends as the human-readable part: the
    ``X-SOAX-Detail`` value, the proxies.fo plaintext body, the JSON
    ``message``; helodata and generic status replies send it as the body.
    """

    status: int
    code: str
    text: str
    reason: str | None = None


def ed(status: int, code: str, text: str, reason: str | None = None) -> ErrorDef:
    return ErrorDef(status, code, text, reason)



# --- building replies ---------------------------------------------------------

Builder = Callable[[ErrorDef, str, Mapping[str, Any]], Reply]


def retry_after_header(kw: Mapping[str, Any]) -> list[tuple[str, str]]:
    seconds = kw.get("retry_after")
    return [] if seconds is None else [("Retry-After", str(seconds))]


def extra_headers(kw: Mapping[str, Any]) -> list[tuple[str, str]]:
    extra = kw.get("headers") or ()
    return list(extra.items()) if isinstance(extra, Mapping) else list(extra)



class Memory:
    """Per-emulator state a provider's checks keep between requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: dict[Any, Any] = {}

    def first(self, key: Any, value: Any) -> Any:
        """The value stored for *key*, storing *value* if there was none."""
        with self._lock:
            return self._first.setdefault(key, value)


@dataclass(frozen=True)
class Incoming:
    """What a provider's checks see of one request."""

    kind: Literal["plain", "connect", "api"]
    user: str
    session: str | None
    headers: Mapping[str, str]
    #: API requests: the path and the query (first values; the key removed).
    path: str
    query: Mapping[str, str]
    params: Mapping[str, Any]
    memory: Memory

    def header(self, name: str) -> str | None:
        folded = name.lower()
        for key, value in self.headers.items():
            if key.lower() == folded:
                return value
        return None


@dataclass(frozen=True)
class ApiCall:
    """What an API's answer hook gets for an admitted request."""

    path: str
    query: Mapping[str, str]
    #: A fresh request id (``None`` when the provider sends none).
    request_id: str | None
    #: ``fetch(url)``: the local target's reply for *url*, ``None`` if unreachable.
    fetch: Callable[[str], Reply | None]
    spec: ProviderSpec
    #: The request's body (APIs that take a JSON request).
    body: bytes = b""


#: The provider's check of one request: an error code, or ``None``.
Validator = Callable[[Incoming], "str | None"]
#: An API's reply to an admitted request, and whether it is billed.
Answer = Callable[[ApiCall], "tuple[Reply, bool]"]
#: Reads the provider's code back from a reply (``None``: none found).
Reader = Callable[["ProviderSpec", Reply], "str | None"]


JSON_TYPE = [("Content-Type", "application/json")]


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, list(JSON_TYPE), json.dumps(data).encode())


def answer_passthrough(call: ApiCall) -> tuple[Reply, bool]:
    """A scraping API that returns the page as the target sent it (status,
    body and content type) for ``url=``; unreachable targets get the
    provider's *unreachable* error, not billed. Without ``url=``: 200 JSON."""
    url = call.query.get("url")
    if url is None:
        return json_reply({"ok": True, "path": call.path}), True
    fetched = call.fetch(url)
    if fetched is None:
        return call.spec.reply(call.spec.unreachable), False
    return handed_on(fetched), True


def handed_on(fetched: Reply) -> Reply:
    """A target's reply as an API hands it on: its status, content type and body."""
    kept = [(k, v) for k, v in fetched.header_items() if k.lower() == "content-type"]
    return Reply(fetched.status, kept, fetched.body)


def read_header(name: str) -> Reader:
    """A reader for providers that put their code in header *name*."""
    def read(spec: ProviderSpec, reply: Reply) -> str | None:
        return reply.header(name)
    return read


def read_json(*path: str) -> Reader:
    """A reader for providers whose JSON body carries the code at *path*;
    each step may also be a string (the code itself)."""
    def read(spec: ProviderSpec, reply: Reply) -> str | None:
        try:
            data: Any = json.loads(reply.body)
        except (ValueError, RecursionError):
            # A responder's hostile body (invalid, or nested thousands deep).
            return None
        for step in path:
            if not isinstance(data, dict):
                return None
            data = data.get(step)
            if isinstance(data, str):
                return data
        return data if isinstance(data, str) else None
    return read


def read_proxy_status(spec: ProviderSpec, reply: Reply) -> str | None:
    """RFC 9209 ``Proxy-Status: name; error=<type>``, else the bare status."""
    match = re.search(r"error=([a-z_]+)", reply.header("Proxy-Status") or "")
    return match.group(1) if match else str(reply.status)


def read_status_or_text(spec: ProviderSpec, reply: Reply) -> str | None:
    """The error whose status and text match the reply's, else the status."""
    text = reply.body.decode("utf-8", "replace").strip().lower()
    for err in spec.errors:
        if err.status == reply.status and err.text.lower() == text:
            return err.code
    return str(reply.status)



@dataclass(frozen=True)
class ProviderSpec:
    """One provider: its errors, which of them each situation calls for, and
    the few things it does its own way (credentials, API key, checks,
    answers). Emulating a new provider is a new entry in :data:`SPECS`."""

    name: str
    kind: Literal["proxy", "api"]
    errors: tuple[ErrorDef, ...]
    builder: Builder
    #: Username token followed by the session id (``sessionid-<id>``).
    session_param: str | None
    #: Codes for: no credentials, wrong credentials.
    auth_missing: str
    auth_wrong: str
    #: Codes the scenarios answer with (``None``: the docs name none).
    quota: str | None
    rate_limit: str | None
    concurrency: str | None
    transient: tuple[str, ...]
    node_dead: str | None
    bound_node_dead: str | None
    #: The error for a target that cannot be reached.
    unreachable: str
    bad_request: str
    #: Codes that are a prefix family (the code is the prefix plus anything),
    #: and the suffix that makes an example of one.
    families: tuple[str, ...] = ()
    family_example: str = "example"
    #: Codes for: a proxy port that is down for a while (sent with
    #: ``Retry-After``), the service failing (an outage), a key that was
    #: revoked (default: *auth_wrong*), a per-target-site rate limit, an IP
    #: of a per-IP batch that fails everything (scenario ``isp``).
    unavailable: str | None = None
    internal: str | None = None
    revoked: str | None = None
    site_limit: str | None = None
    bad_ip: str | None = None
    #: A username token that forbids a replacement node (*bound_node_dead*).
    bound_node_token: str | None = None
    #: How the proxy username is checked: ``exact`` (the account's user),
    #: ``prefix`` (the user, then ``-modifiers``), ``any`` (the username
    #: carries only rules; the password is the key), ``key`` (the API key is
    #: the username, the password is empty). APIs check the key only.
    user_match: Literal["exact", "prefix", "any", "key"] = "exact"
    #: One proxy port per IP (``ips`` of them), limits counted per IP.
    per_ip: bool = False
    #: API key: the header that may carry it (after *key_scheme*, as in
    #: ``Authorization: Bearer <key>``), and the query parameter (``None``:
    #: the header only).
    key_header: str | None = None
    key_scheme: str | None = None
    key_param: str | None = "api_key"
    #: The rate window sent on every reply (``X-RateLimit-*``) outside the
    #: ``ratelimit`` scenario: ``(limit, window seconds)``.
    rate_window: tuple[int, float] | None = None
    #: Prefix of the request ids the provider generates (``req_``).
    request_id_prefix: str | None = None
    #: The provider answers ``Expect: 100-continue`` with an error instead
    #: of ``100 Continue`` (the validator names the code).
    refuses_expect: bool = False
    #: Some replies with a 2xx status are errors (a status header), which
    #: the reader tells apart.
    errors_in_2xx: bool = False
    #: Provider-only scenario parameters this provider takes.
    takes: tuple[str, ...] = ()
    validate: Validator | None = None
    answer: Answer = answer_passthrough
    reader: Reader = read_status_or_text

    def find(self, code_or_status: str | int) -> tuple[ErrorDef, str]:
        """The error definition and the exact code for *code_or_status*.

        A status picks the first error documented with it; a code is matched
        case-insensitively, a family prefix with any suffix.
        """
        if isinstance(code_or_status, int) or str(code_or_status).isdigit():
            status = int(code_or_status)
            for err in self.errors:
                if err.code == str(status):
                    return err, err.code
            for err in self.errors:
                if err.status == status:
                    return err, self._concrete(err.code)
            raise ValueError(f"{self.name} documents no error with status {status}")
        code = str(code_or_status)
        for err in self.errors:
            if err.code.lower() == code.lower() and err.code not in self.families:
                return err, err.code
        for err in self.errors:
            if err.code in self.families and code.lower().startswith(err.code.lower()) \
                    and len(code) > len(err.code):
                return err, code
        known = ", ".join(self._concrete(e.code) for e in self.errors)
        raise ValueError(f"{self.name} documents no error code {code!r}; known: {known}")

    def _concrete(self, code: str) -> str:
        return code + self.family_example if code in self.families else code

    def codes(self) -> tuple[str, ...]:
        """Every documented code (families with an example suffix)."""
        return tuple(self._concrete(e.code) for e in self.errors)

    def reply(self, code_or_status: str | int, **kw: Any) -> Reply:
        """The documented reply for a code (or status), shaped as the docs show."""
        err, code = self.find(code_or_status)
        return self.builder(err, code, kw)

    def code_of(self, reply: Reply) -> str | None:
        """The provider code a reply carries, read back the provider's way."""
        if reply.status < 400 and not self.errors_in_2xx:
            return None
        return self.reader(self, reply)


def format_seconds(value: float) -> str:
    """Seconds as a header value: ``60``, not ``60.0``; ``0.5`` stays."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
