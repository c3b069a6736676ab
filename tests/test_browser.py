"""End to end in a real browser (Debian's Chromium driven by Playwright): sign in, review
a record with five flagged fields by keyboard only, see it delivered and audited. The
keystrokes and seconds it took are printed and written beside a screenshot of the record
screen in the test artifacts folder (``BLANKETT_TEST_ARTIFACTS``, default
``test-artifacts/``)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from pipeline.compose import build_originals, build_targets
from pipeline.db import records as stored
from pipeline.db.schema import events
from pipeline.service.outbox import deliver_due
from pipeline.service.review import READS
from tests.conftest import ROOT
from tests.web_kit import PASSWORD, app_for, build_world, copy_world, flag_fields

# Chromium via Playwright; the world is read with the session's Tesseract (ctx).
pytestmark = [pytest.mark.integration, pytest.mark.tesseract]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BLANKETT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
# What the probe found Chromium needs on these machines (no network, running as root).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("BLANKETT_REQUIRE_BROWSER"):
            pytest.fail(
                "Chromium is required (BLANKETT_REQUIRE_BROWSER) but /usr/bin/chromium "
                "is missing; `make test` installs it"
            )
        pytest.skip("/usr/bin/chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def server(tmp_path: Path, ctx) -> Iterator[tuple[str, object, object]]:
    import uvicorn

    world = build_world(tmp_path / "world", ctx)
    w, db = copy_world(world, tmp_path)
    app = app_for(w, db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", w, db
    srv.should_exit = True
    th.join(timeout=10)
    db.dispose()


FLAGGED = ["fornamn", "efternamn", "personnummer", "postort", "datum"]
CORRECTION = "19420109-9639"  # the check digit the applicant got wrong, corrected


def test_review_a_record_by_keyboard_only(browser, server):
    base, w, db = server
    flag_fields(db, w.review_key, ["fornamn", "efternamn", "postort", "datum"])
    with db.connect() as c:
        rec = stored.load(c, w.review_key)
    assert rec is not None and [f.name for f in rec.fields if f.needs_review] == FLAGGED

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    keys = 0

    def press(key: str) -> None:
        nonlocal keys
        page.keyboard.press(key)
        keys += 1

    def type_text(text: str) -> None:
        nonlocal keys
        page.keyboard.type(text)
        keys += len(text)

    # sign in, keyboard only
    page.goto(base + "/review/next")
    assert "/login" in page.url
    type_text("olle")
    press("Tab")
    type_text(PASSWORD)
    press("Enter")
    page.wait_for_url(f"**/records/{w.review_key}")
    expect(page.locator("#in-fornamn")).to_be_focused()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "record-screen.png"), full_page=True)
    sign_in_keys, keys = keys, 0

    started = time.monotonic()
    for name in FLAGGED:
        expect(page.locator(f"#in-{name}")).to_be_focused()
        current = page.locator(f'rect.box.current[data-field="{name}"]')
        assert current.count() == 1  # the field's box is highlighted on the page
        if name == "personnummer":
            type_text(CORRECTION)  # the read text is selected: typing replaces it
        press("Enter")
    page.wait_for_url("**/queue?done=1")
    seconds = time.monotonic() - started
    assert "Nothing left to review" in page.content()

    # accepted; the service's deliverer sends it to both targets
    run = deliver_due(db, build_targets(w.cfg), build_originals(w.cfg), w.cfg.delivery)
    assert run.delivered == 2
    page.goto(f"{base}/records/{w.review_key}")
    assert "Status: <strong>delivered</strong>" in page.content()
    history = page.locator("section.history").inner_text()
    assert "olle" in history and "corrected" in history and "personnummer" in history
    with db.connect() as c:
        audit = c.execute(
            select(events.c.actor, events.c.action, events.c.field)
            .where(
                events.c.entity_id == w.review_key,
                events.c.field.isnot(None),
                events.c.action.not_in(READS),  # the crops and the page were read: audited
            )
            .order_by(events.c.id)
        ).all()
        reads = set(
            c.execute(
                select(events.c.action).where(
                    events.c.entity_id == w.review_key, events.c.action.in_(READS)
                )
            ).scalars()
        )
    assert reads == READS  # the record, its crops and its page were read by olle
    assert [tuple(a) for a in audit] == [
        ("olle", "confirmed", "fornamn"),
        ("olle", "confirmed", "efternamn"),
        ("olle", "corrected", "personnummer"),
        ("olle", "confirmed", "postort"),
        ("olle", "confirmed", "datum"),
    ]
    page.screenshot(path=str(ARTIFACTS / "record-delivered.png"), full_page=True)
    figures = (
        f"reviewing a record with {len(FLAGGED)} flagged fields: {keys} keystrokes "
        f"({len(FLAGGED)} Enter, {len(CORRECTION)} typed), {seconds:.2f} s "
        f"(sign-in: {sign_in_keys} keystrokes)"
    )
    (ARTIFACTS / "review-figures.txt").write_text(figures + "\n")
    print(figures)
    assert keys == len(FLAGGED) + len(CORRECTION)


def test_the_review_screen_works_at_200_percent_zoom(browser, server):
    base, w, _ = server
    page = browser.new_page(viewport={"width": 640, "height": 900}, device_scale_factor=2)
    page.goto(base + "/login")
    expect(page.locator("#name")).to_be_focused()
    page.keyboard.type("olle")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/", timeout=5000)
    page.goto(f"{base}/records/{w.review_key}")
    expect(page.locator("input[name=value]").first).to_be_focused()
    # nothing runs off the side: the page does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "record-screen-narrow.png"), full_page=True)
