"""Hardening of the review UI and its accounts (issue 10): the sign-in throttle per name
and client, rejecting a record, audited reads of personal data, the plain-http sign-in
hint, no 500 for bad ids or edits, and the strict headers on every answer."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from pipeline.cli.main import app as cli
from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.connect import open_state_db
from pipeline.db.schema import deliveries, events, records, sign_in_throttle
from pipeline.errors import SignInThrottled, StateError
from pipeline.records import RecordStatus, StoredField, StoredRecord
from pipeline.service import accounts
from pipeline.stages.deliver import short_key
from pipeline.stages.review import reject
from tests.conftest import make_config
from tests.service_kit import write_config
from tests.web_kit import PASSWORD, World, app_for, build_world, copy_world, csrf_of

FREE = accounts.FREE_FAILURES
ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)
tesseract = pytest.mark.tesseract  # the world is read with the real recognition context


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, ctx) -> World:
    return build_world(tmp_path_factory.mktemp("hardening"), ctx)


@pytest.fixture
def site(world: World, tmp_path: Path):
    w, db = copy_world(world, tmp_path)
    app = app_for(w, db)
    yield w, db, app
    db.dispose()


def browser(app, ip: str = "10.0.0.1", base: str = "https://review.example") -> TestClient:
    return TestClient(
        app,
        base_url=base,
        follow_redirects=False,
        client=(ip, 50000),
        raise_server_exceptions=False,
    )


def try_password(c: TestClient, name: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_of(c.get("/login").text)
    return c.post("/login", data={"name": name, "password": password, "csrf": token})


def signed_in(app, name: str = "olle", ip: str = "10.0.0.1") -> tuple[TestClient, str]:
    c = browser(app, ip)
    assert try_password(c, name, PASSWORD).status_code == 303
    return c, csrf_of(c.get("/queue").text)


# -- 3: the sign-in throttle ------------------------------------------------------------


@tesseract
def test_a_strangers_failures_never_lock_the_user_out(site):
    _, _, app = site
    stranger = browser(app, "203.0.113.9")
    for _ in range(FREE):
        assert try_password(stranger, "olle", "guess guess").status_code == 401
    held = try_password(stranger, "olle", PASSWORD)  # even the right one waits there
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
    assert "Try again in" in held.text and "blankett user passwd" in held.text
    signed_in(app, "olle", ip="10.0.0.7")  # olle at his own desk is not affected


@tesseract
def test_the_wait_doubles_and_never_tells_whether_the_name_exists(site):
    _, db, app = site
    answers = {}
    for name in ("olle", "nobody-by-that-name"):
        c = browser(app, "198.51.100.4")
        for _ in range(FREE):
            assert try_password(c, name, "guess guess").status_code == 401
        first = try_password(c, name, "guess guess")
        assert first.status_code == 429
        waits = [_wait(db, name)]
        for _ in range(3):
            _let_the_wait_pass(db, name)
            assert try_password(c, name, "guess guess").status_code == 401
            again = try_password(c, name, "guess guess")
            assert again.status_code == 429
            waits.append(_wait(db, name))
        assert waits == [accounts.delay_after(FREE + i) for i in range(4)] == [1, 2, 4, 8]
        answers[name] = (again.headers["Retry-After"], ERROR.search(again.text).group(1))
    assert answers["olle"] == answers["nobody-by-that-name"]
    assert accounts.delay_after(10_000) == accounts.MAX_DELAY


def _wait(db, name: str) -> float:
    with db.connect() as conn:
        row = conn.execute(select(sign_in_throttle).where(sign_in_throttle.c.name == name)).one()
    return (state.utc(row.blocked_until) - state.utc(row.updated_at)).total_seconds()


def _let_the_wait_pass(db, name: str) -> None:
    """As if the wait were over: the row's block moved into the past."""
    with db.begin() as conn:
        conn.execute(
            update(sign_in_throttle)
            .where(sign_in_throttle.c.name == name)
            .values(blocked_until=state.now() - dt.timedelta(seconds=1))
        )


@pytest.fixture
def accounts_db(db_urls: tuple[str, str]):
    eng = open_state_db(db_urls[0])
    accounts.add_user(eng, "ada", PASSWORD, "admin")
    yield eng
    eng.dispose()


def test_parallel_tries_are_counted_before_any_password_is_checked(accounts_db):
    tries = 30
    start = threading.Barrier(tries)
    outcomes: list[str] = []

    def one(password: str) -> None:
        start.wait()
        try:
            got = accounts.sign_in(accounts_db, "ada", password, 1.0, "192.0.2.1")
        except SignInThrottled:
            outcomes.append("waited")
        else:
            outcomes.append("in" if got else "wrong")

    threads = [
        threading.Thread(target=one, args=(PASSWORD if i == tries - 1 else f"guess {i:06d}",))
        for i in range(tries)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == tries
    checked = outcomes.count("wrong") + outcomes.count("in")
    assert checked <= FREE, outcomes  # the rest were refused unchecked
    assert outcomes.count("waited") >= tries - FREE


def test_a_new_password_lifts_the_wait(accounts_db):
    for _ in range(FREE):
        assert accounts.sign_in(accounts_db, "ada", "guess guess", 1.0, "192.0.2.1") is None
    with pytest.raises(SignInThrottled):
        accounts.sign_in(accounts_db, "ada", PASSWORD, 1.0, "192.0.2.1")
    accounts.set_password(accounts_db, "ada", "a brand new one")
    assert accounts.sign_in(accounts_db, "ada", "a brand new one", 1.0, "192.0.2.1")
    with accounts_db.connect() as conn:
        assert conn.execute(select(sign_in_throttle)).all() == []


# -- 13: rejecting a record -------------------------------------------------------------


def test_reject_is_a_final_move_with_a_reason():
    rec = StoredRecord(
        "k:1", 1, RecordStatus.NEEDS_REVIEW, "f", 1, (1,), (StoredField("a", "x", "x", 1, False),)
    )
    out = reject(rec, "  a junk\npage ", "olle")
    assert out.record.status is RecordStatus.REJECTED and rec.status is RecordStatus.NEEDS_REVIEW
    (e,) = out.events
    assert (e.actor, e.before, e.after, e.reason) == (
        "olle",
        "needs_review",
        "rejected",
        "a junk page",
    )
    with pytest.raises(StateError, match="say why"):
        reject(rec, "   ", "olle")
    for status in (RecordStatus.ACCEPTED, RecordStatus.DELIVERED, RecordStatus.REJECTED):
        with pytest.raises(StateError, match="can be rejected"):
            reject(StoredRecord("k:1", 1, status, "f", 1, (1,), ()), "junk", "olle")
    assert state.allowed("record", "unidentified", "rejected")
    assert not state.allowed("record", "rejected", "accepted")
    assert not state.allowed("record", "accepted", "rejected")


@tesseract
def test_an_operator_rejects_a_record_with_a_reason_and_it_is_never_delivered(site):
    w, db, app = site
    c, csrf = signed_in(app)
    url = f"/records/{w.review_key}/reject"
    page = c.get(f"/records/{w.review_key}").text
    assert f'action="{url}"' in page and '<label for="reject-reason">' in page
    assert c.post(url, data={"reason": "junk"}).status_code == 403  # no CSRF token
    blank = c.post(url, data={"reason": "  ", "csrf": csrf})
    assert blank.status_code == 422 and "Say why" in blank.text
    ok = c.post(url, data={"reason": "the same form sent twice on paper", "csrf": csrf})
    assert ok.status_code == 303 and ok.headers["location"].startswith("/review/next")
    with db.connect() as conn:
        rec = stored.load(conn, w.review_key)
        ev = conn.execute(
            select(events).where(events.c.entity_id == w.review_key, events.c.after == "rejected")
        ).one()
        outbox = conn.execute(
            select(deliveries).where(deliveries.c.record_key == w.review_key)
        ).all()
    assert rec is not None and rec.status is RecordStatus.REJECTED and outbox == []
    assert (ev.actor, ev.before, ev.reason) == ("olle", "needs_review", ev.reason)
    assert ev.reason == "the same form sent twice on paper"
    assert w.review_key not in c.get("/queue").text
    shown = c.get(f"/records/{w.review_key}").text
    assert "Status: <strong>rejected</strong>" in shown and "sent twice on paper" in shown
    assert c.post(url, data={"reason": "again", "csrf": csrf}).status_code == 409
    edit = c.post(
        f"/records/{w.review_key}/fields/personnummer",
        data={"version": rec.version, "value": "19121212-1212", "csrf": csrf},
    )
    assert edit.status_code == 409  # nothing to review any more


@tesseract
def test_an_unidentified_page_can_be_rejected_from_its_list(site):
    w, db, app = site
    c, csrf = signed_in(app)
    with db.connect() as conn:
        key = conn.execute(
            select(records.c.key).where(records.c.document_id == w.unidentified_doc)
        ).scalar_one()
    assert f'action="/records/{key}/reject"' in c.get("/unidentified").text
    r = c.post(f"/records/{key}/reject", data={"reason": "a blank cover sheet", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/unidentified?rejected=1"
    assert "okand.jpg" not in c.get("/unidentified").text


@tesseract
def test_the_reject_command_and_the_listings_that_show_it(site, tmp_path: Path):
    w, _, _ = site
    cfg = str(write_config(w.cfg, tmp_path / "service.yaml"))
    run = CliRunner().invoke
    shown = short_key(w.review_key)
    assert run(cli, ["reject", shown, "-c", cfg]).exit_code == 2  # --reason is required
    ok = run(cli, ["reject", shown, "--reason", "the wrong form", "-c", cfg])
    assert ok.exit_code == 0 and f"record {shown} rejected" in ok.stdout
    assert run(cli, ["reject", shown, "--reason", "again", "-c", cfg]).exit_code == 1
    assert run(cli, ["reject", "zz:1", "--reason", "x", "-c", cfg]).exit_code == 1
    listed = run(cli, ["records", "-s", "rejected", "-c", cfg])
    assert shown in listed.stdout and "rejected" in listed.stdout
    status = json.loads(run(cli, ["status", "--json", "-c", cfg]).stdout)
    assert status["records"]["rejected"] == 1


# -- 14: reading personal data is audited ----------------------------------------------


@tesseract
def test_reading_a_record_a_crop_and_pages_is_audited_without_values(site):
    w, db, app = site
    c, _ = signed_in(app)
    with db.connect() as conn:
        before = conn.execute(select(events.c.id).order_by(events.c.id.desc())).scalar()
        rec = stored.load(conn, w.review_key)
    assert c.get(f"/records/{w.review_key}").status_code == 200
    assert c.get(f"/records/{w.review_key}/crops/personnummer").status_code == 200
    assert c.get(f"/records/{w.review_key}/pages/1").status_code == 200
    assert c.get(f"/documents/{w.unidentified_doc}/pages/1?width=200").status_code == 200
    with db.connect() as conn:
        reads = conn.execute(
            select(events).where(events.c.id > before, events.c.action.like("viewed%"))
        ).all()
    assert [(e.entity, e.action, e.field, e.actor) for e in reads] == [
        ("record", "viewed", None, "olle"),
        ("record", "viewed_crop", "personnummer", "olle"),
        ("record", "viewed_page", "page 1", "olle"),
        ("document", "viewed_page", "page 1", "olle"),
    ]
    values = {str(f.value) for f in rec.fields if f.value} | {f.text for f in rec.fields if f.text}
    for e in reads:
        assert not {e.before, e.after, e.reason, e.field} & values
    history = c.get(f"/records/{w.review_key}").text
    assert "viewed" not in history.split('id="h-history"')[1]  # changes only


# -- 15: plain http and Secure cookies --------------------------------------------------


@tesseract
def test_sign_in_over_plain_http_names_the_cause_and_the_fix(site, world: World):
    _, db, app = site
    c = browser(app, base="http://review.example:8080")
    r = try_password(c, "olle", PASSWORD)
    assert r.status_code == 403
    assert "plain http" in r.text and "HTTPS" in r.text and "web.secure_cookies: false" in r.text
    local = try_password(browser(app, base="http://localhost:8080"), "olle", PASSWORD)
    assert local.status_code == 403 and "expired" in local.text and "plain http" not in local.text
    web = world.cfg.web.model_copy(update={"secure_cookies": False})
    trusting = app_for(replace(world, cfg=world.cfg.model_copy(update={"web": web})), db)
    ok = try_password(browser(trusting, base="http://review.example:8080"), "olle", PASSWORD)
    assert ok.status_code == 303


# -- 19: no 500 for a bad id or a bad edit ----------------------------------------------


@tesseract
def test_an_overflowing_document_id_is_no_document(site):
    w, _, app = site
    c, csrf = signed_in(app, "ada")
    huge = "99999999999999999999999"
    assert c.get(f"/documents/{huge}/pages/1").status_code == 404
    assert c.post(f"/documents/{huge}/retry", data={"csrf": csrf}).status_code == 404
    assign = {"csrf": csrf, "template": "parkeringstillstand"}
    assert c.post(f"/documents/{huge}/assign", data=assign).status_code == 404
    assert c.get(f"/documents/{w.unidentified_doc}/pages/{huge}").status_code == 404


@tesseract
def test_an_edit_with_no_field_to_show_is_refused_in_words(site):
    w, db, app = site
    c, csrf = signed_in(app)
    with db.connect() as conn:
        unidentified = conn.execute(
            select(records.c.key).where(records.c.document_id == w.unidentified_doc)
        ).scalar_one()
        rec = stored.load(conn, w.review_key)
    on_unidentified = c.post(
        f"/records/{unidentified}/fields/efternamn",
        data={"version": 1, "value": "x", "csrf": csrf},
    )
    assert on_unidentified.status_code == 409 and "nothing to review" in on_unidentified.text
    made_up = c.post(
        f"/records/{w.review_key}/fields/no_such_field",
        data={"version": rec.version, "value": "x", "csrf": csrf},
    )
    assert made_up.status_code == 409 and "no field" in made_up.text


@tesseract
def test_an_unknown_form_filter_is_refused_before_the_record_is_accepted(site):
    w, db, app = site
    c, csrf = signed_in(app)
    with db.connect() as conn:
        rec = stored.load(conn, w.review_key)
    url = f"/records/{w.review_key}/fields/personnummer"
    last = {"version": rec.version, "value": "19121212-1212", "csrf": csrf}
    bad_form = c.post(url, data={**last, "form": "nöpe-ő\r\n"})
    assert bad_form.status_code == 400 and "no form" in bad_form.text
    with db.connect() as conn:
        assert stored.load(conn, w.review_key).status is RecordStatus.NEEDS_REVIEW
    assert c.get("/review/next", params={"form": "ő\r\nX: y"}).status_code == 303
    ok = c.post(url, data={**last, "form": "parkeringstillstand"})
    assert ok.status_code == 200
    assert ok.headers["HX-Redirect"].endswith("&form=parkeringstillstand")


# -- 20: headers on every answer; personal images are never cached ----------------------


@tesseract
def test_a_crash_answers_500_with_the_strict_headers(site):
    _, db, app = site
    c, _ = signed_in(app)
    missing = c.get("/records/nope:1")
    assert missing.status_code == 404 and missing.headers["X-Frame-Options"] == "DENY"
    with db.begin() as conn:  # a real fault: the table the health check reads is gone
        conn.execute(text("ALTER TABLE documents RENAME TO documents_gone"))
    r = c.get("/healthz")
    assert r.status_code == 500 and "Something went wrong" in r.text
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert r.headers["Cache-Control"] == "no-store"


@tesseract
def test_crops_and_page_images_are_never_cached(site):
    w, _, app = site
    c, _ = signed_in(app)
    for url in [
        f"/records/{w.review_key}/crops/personnummer",
        f"/records/{w.review_key}/pages/1",
        f"/documents/{w.unidentified_doc}/pages/1?width=200",
    ]:
        r = c.get(url)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", url


def _client_seen(options: dict[str, Any]) -> str:
    """The client address a real uvicorn server hands the app for a request from loopback
    that claims to come from elsewhere."""
    import socket
    import threading
    import urllib.request

    import uvicorn

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        body = (scope["client"] or ("?",))[0].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(echo, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            threading.Event().wait(0.05)
        ask = urllib.request.Request(
            f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "10.9.8.7"}
        )
        with urllib.request.urlopen(ask, timeout=5) as res:
            return str(res.read().decode())
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def test_forwarded_addresses_are_believed_only_from_named_proxies(tmp_path: Path):
    from pipeline.web.app import server_options

    cfg = make_config(tmp_path)
    # Any local user can reach 127.0.0.1: by default the header must not name the client.
    assert _client_seen(server_options(cfg)) == "127.0.0.1"
    proxied = cfg.model_copy(
        update={"web": cfg.web.model_copy(update={"trusted_proxies": ("127.0.0.1",)})}
    )
    assert _client_seen(server_options(proxied)) == "10.9.8.7"


def test_sign_in_never_sends_people_to_another_site(site):
    _w, _db, app = site
    for evil in ("//evil.example/x", "/\\evil.example/x"):
        c = browser(app)
        token = csrf_of(c.get("/login").text)
        res = c.post(
            "/login", data={"name": "olle", "password": PASSWORD, "csrf": token, "next": evil}
        )
        assert res.status_code == 303 and res.headers["location"] == "/", evil
