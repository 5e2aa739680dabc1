"""The local target site: a finite link graph, status pages and an echo."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ._types import Reply, reason_phrase

if TYPE_CHECKING:
    from collections.abc import Mapping

_PAGE = re.compile(r"/page/(\d{1,9})/?")
_STATUS = re.compile(r"/status/(\d{3})/?")
_HTML = "text/html; charset=utf-8"


def links(number: int, pages: int) -> list[int]:
    """The pages page *number* links to: next, two children, and home.

    Every page up to *pages* is reachable from ``/page/1`` (through "next"),
    while the children make the graph wide enough for concurrent crawls.
    """
    found = [number + 1, 2 * number, 2 * number + 1, 1]
    out: list[int] = []
    for target in found:
        if 1 <= target <= pages and target != number and target not in out:
            out.append(target)
    return out


def page(number: int, pages: int) -> bytes:
    items = "".join(
        f'<li><a href="/page/{n}">Page {n}</a></li>' for n in links(number, pages)
    )
    return (
        f"<!DOCTYPE html><html><head><title>Page {number}</title></head><body>"
        f'<h1 id="title">Page {number}</h1><ul class="links">{items}</ul>'
        "</body></html>"
    ).encode()


def serve(method: str, path: str, headers: Mapping[str, str], body: bytes,
          pages: int) -> Reply:
    """The target site's reply to one request."""
    bare = path.split("?", 1)[0].split("#", 1)[0] or "/"
    server = ("Server", "proxyerrors-emulator-target")
    match = _PAGE.fullmatch(bare)
    if match:
        return Reply(200, [("Content-Type", _HTML), server], page(int(match[1]), pages))
    match = _STATUS.fullmatch(bare)
    if match and 200 <= int(match[1]) <= 599:
        status = int(match[1])
        extra = [("Location", "/page/1")] if 300 <= status < 400 else []
        text = b"" if status in (204, 304) else f"{status} {reason_phrase(status)}\n".encode()
        return Reply(status, [("Content-Type", "text/plain"), server, *extra], text)
    if bare == "/echo":
        data = {"method": method, "path": path, "headers": dict(headers),
                "body": body.decode("utf-8", "replace")}
        return Reply(200, [("Content-Type", "application/json"), server],
                     json.dumps(data).encode())
    if bare == "/":
        return Reply(200, [("Content-Type", _HTML), server], page(0, pages))
    return Reply(404, [("Content-Type", "text/plain"), server], b"404 Not Found\n")
