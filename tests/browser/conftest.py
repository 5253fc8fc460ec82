"""A live review server on a free loopback port, and a headless Chromium page driven by Playwright."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # makes fixtures.review.support importable

from fixtures.review.support import ORIGINS, RESULTS, Env, seed, settings_for  # noqa: E402

CHROMIUM = Path(os.environ.get("MAILGUARD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, Env]]:
    """Yield (base URL, env) of a seeded review app served by uvicorn in a thread."""
    yield from _serve(tmp_path)


@pytest.fixture
def live_origins_server(tmp_path: Path) -> Iterator[tuple[str, Env]]:
    """Yield (base URL, env) of the app seeded with the fixture results and origins.parquet's rows too."""
    import pandas as pd

    yield from _serve(tmp_path, pd.concat([pd.read_parquet(RESULTS), pd.read_parquet(ORIGINS)], ignore_index=True))


def _serve(tmp_path: Path, results: Any = None) -> Iterator[tuple[str, Env]]:
    import uvicorn

    from serve.review.main import create_app

    url = f"sqlite:///{tmp_path / 'review.db'}"
    seed(url, results)
    env = Env(url, settings_for(url))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(env.settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("review server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", env
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    """Yield a Playwright page in the system's headless Chromium (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests skipped: {CHROMIUM} not found; run scripts/ci_services.sh")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
