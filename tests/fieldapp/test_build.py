"""The committed bundle (fieldapp/static/fieldapp/app.js, sw.js) is what the sources and the lockfile build."""

import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "fieldapp" / "js"


def test_committed_build_matches_the_sources():
    if shutil.which("node") is None:
        pytest.skip("No Node.js here: the committed build cannot be rebuilt to compare (scripts/test.sh says so)")
    if not (JS / "node_modules" / "esbuild").exists():
        pytest.skip("fieldapp/js has no node_modules (scripts/test.sh runs npm ci there when npm is present)")
    done = subprocess.run(["node", "build.mjs", "--check"], cwd=JS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_app_shell_and_its_worker_are_served(client):
    page = client.get("/app/")
    assert page.status_code == 200 and b'src="/static/fieldapp/app.js"' in page.content
    worker = client.get("/app/sw.js")
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == "/app/"
    assert b"/static/fieldapp/app.js" in worker.content  # the shell it precaches
    assert client.get("/app/manifest.webmanifest").json()["start_url"] == "/app/"
