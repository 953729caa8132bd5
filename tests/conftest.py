import os
import shutil
from pathlib import Path

import pytest

from .support import Field


@pytest.fixture
def field(db):
    """Two programs, two MACRO teams and a DVP team, a user per role that matters (see tests/support.py)."""
    return Field()


@pytest.fixture
def tfield(transactional_db):
    """The same, for tests whose transactions must really commit (they run in the serial phase)."""
    return Field()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def browser():
    """Debian's headless Chromium driven by Playwright (its own browser download cannot work here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (scripts/test.sh installs Debian's chromium when it can)")
    playwright = pytest.importorskip("playwright.sync_api")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
