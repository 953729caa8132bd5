import contextlib
from pathlib import Path

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.failed_call = True
    return report


DUMP = """() => new Promise((ok) => { const r = indexedDB.open('field-records'); r.onsuccess = () => {
  const tx = r.result.transaction(['records', 'outbox', 'rejected', 'notices']); const out = {};
  for (const name of ['records', 'outbox', 'rejected', 'notices']) {
    const q = tx.objectStore(name).getAll(); q.onsuccess = () => { out[name] = q.result; };
  }
  tx.oncomplete = () => ok(JSON.stringify(out, null, 1)); }; })"""


@pytest.fixture
def phones(request):
    """Open phones of a test; on failure each one's screen is saved under test-artifacts/field-app/failures."""
    opened = []
    yield opened
    if getattr(request.node, "failed_call", False):
        folder = Path(__file__).resolve().parents[2] / "test-artifacts" / "field-app" / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        for phone in opened:
            try:
                (folder / f"{request.node.name}-{phone.name}.json").write_text(phone.page.evaluate(DUMP))
                phone.page.screenshot(path=str(folder / f"{request.node.name}-{phone.name}.png"), full_page=True)
            except Exception as exc:  # noqa: BLE001 - the page may already be gone
                print(f"no failure screenshot of {phone.name}: {exc}")
    for phone in opened:  # no request of theirs may still be running when the database is flushed
        with contextlib.suppress(Exception):  # already closed
            phone.context.close()
