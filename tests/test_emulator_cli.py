"""The command line and the pytest fixture."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scrapy_proxyerrors.emulator.client import RawClient

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy_proxyerrors.emulator import Emulator
    from scrapy_proxyerrors.emulator.pytest_plugin import EmulatorFactory


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Run the CLI; return it and its lines up to "Serving"."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scrapy_proxyerrors.emulator", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Serving"):
            break
    return process, lines


def _finish(process: subprocess.Popen[str], sig: int) -> tuple[str, str]:
    process.send_signal(sig)
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, err
    return out, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_prints_urls_serves_and_reports(sig: int) -> None:
    process, lines = _start_cli("--provider", "soax", "--scenario", "flaky", "--seed", "2",
                                "--param", "rate=1", "-p", "codes=GATEWAY_TIMEOUT")
    try:
        text = "\n".join(lines)
        assert "provider soax, scenario flaky (rate=1.0, codes=GATEWAY_TIMEOUT)" in text
        proxy = re.search(r"proxy:\s+(http://user:secret@127\.0\.0\.1:\d+)", text)
        target = re.search(r"target:\s+(http://127\.0\.0\.1:\d+/page/1)", text)
        assert proxy and target
        assert re.search(r"target TLS:\s+https://127\.0\.0\.1:\d+/page/1", text)
        client, auth = RawClient.for_url(proxy[1])
        with client:
            response = client.request("GET", target[1], auth)
        assert (response.status, response.header("X-SOAX-Error")) == (504, "GATEWAY_TIMEOUT")
    finally:
        out, err = _finish(process, sig)
    assert "requests: 1" in out
    assert re.search(r"504 GATEWAY_TIMEOUT\s+1", out)
    assert "Traceback" not in err


def test_cli_api_provider_and_fixed_ports(unused_port: int) -> None:
    process, lines = _start_cli("--provider", "chocodata", "--port", str(unused_port),
                                "--password", "k")
    try:
        api = next(line for line in lines if line.startswith("api:"))
        assert f"http://127.0.0.1:{unused_port}/" in api and "(key: k)" in api
        with RawClient("127.0.0.1", unused_port) as client:
            assert client.request("GET", "/v1/product?id=1&api_key=k").status == 200
    finally:
        out, _ = _finish(process, signal.SIGTERM)
    assert "requests: 1" in out


def test_cli_rejects_bad_parameters() -> None:
    for args in (["--param", "rate"], ["--scenario", "budget", "-p", "rate=1"],
                 ["--provider", "wxapros", "--scenario", "budget"]):
        result = subprocess.run(
            [sys.executable, "-m", "scrapy_proxyerrors.emulator", *args],
            capture_output=True, text=True, timeout=30,
        )
        assert result.returncode == 2
        assert "error:" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def check_stopped() -> Iterator[list[Emulator]]:
    """Set up before ``proxy_emulator``, so torn down after it: checks its teardown."""
    started: list[Emulator] = []
    yield started
    assert started
    for emu in started:
        with pytest.raises(ConnectionRefusedError):
            RawClient("127.0.0.1", (emu.ports["proxy"] or [emu.ports["api"]])[0])
        assert not [t for t in threading.enumerate() if t.name.startswith(emu.name + "-")]


def test_fixture_starts_and_stops(check_stopped: list[Emulator],
                                  proxy_emulator: EmulatorFactory) -> None:
    """The fixture comes from the pytest11 entry point, like in a user's suite."""
    emu = proxy_emulator("soax", scenario="budget", credits=1)
    other = proxy_emulator("wxapros")
    client, auth = RawClient.for_url(emu.proxy_url())
    with client:
        assert client.request("GET", emu.target_url("/page/1"), auth).status == 200
        assert client.request("GET", emu.target_url("/page/1"), auth).status == 407
    assert other.api_url().startswith("http://127.0.0.1:")
    check_stopped.extend([emu, other])


def test_fixture_in_a_users_test_suite(tmp_path: Path) -> None:
    """A fresh pytest run, in an unrelated directory, gets the fixture by installation."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        import urllib.request

        def test_crawl_through_the_emulator(proxy_emulator):
            emu = proxy_emulator("proxiesfo", scenario="flaky", rate=1, codes=["503"])
            proxy = urllib.request.ProxyHandler({"http": emu.proxy_url()})
            opener = urllib.request.build_opener(proxy)
            try:
                opener.open(emu.target_url("/page/1"), timeout=10)
            except urllib.error.HTTPError as exc:
                assert (exc.code, exc.read()) == (503, b"Service Unavailable")
            assert [r.status for r in emu.requests] == [503]
    """))
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_docs_example_runs(tmp_path: Path) -> None:
    """docs/emulator.md's copy-paste test passes as written, in a fresh pytest run."""
    doc = (Path(__file__).parent.parent / "docs" / "emulator.md").read_text()
    example = re.search(r"```python\n(import scrapy\n.*?)```", doc, re.DOTALL)
    assert example, "the docs' first example is gone"
    (tmp_path / "test_doc_example.py").write_text(example[1])
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reactor=asyncio",
         str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
