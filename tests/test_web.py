"""The review UI through FastAPI's test client: every route, and every refusal (not
signed in, wrong role, missing CSRF token, stale version)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.db import records as stored
from pipeline.db.schema import deliveries, documents, events, records
from tests.web_kit import PASSWORD, World, app_for, build_world, copy_world, csrf_of

# every test here builds its world with the real recognition context
pytestmark = pytest.mark.tesseract


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, ctx) -> World:
    return build_world(tmp_path_factory.mktemp("web"), ctx)


@pytest.fixture
def site(world: World, tmp_path: Path):
    w, db = copy_world(world, tmp_path)
    app = app_for(w, db)
    yield w, db, app
    db.dispose()


def client(app) -> TestClient:
    # https: the session cookie is Secure, as it is in production.
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def signed_in(app, name: str = "olle") -> tuple[TestClient, str]:
    c = client(app)
    page = c.get("/login")
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    return c, csrf_of(c.get("/queue").text)


def test_nothing_is_visible_without_signing_in(site):
    w, _, app = site
    c = client(app)
    k = w.review_key
    for url in [
        "/",
        "/queue",
        "/review/next",
        f"/records/{k}",
        f"/records/{k}/crops/efternamn",
        f"/records/{k}/pages/1",
        "/unidentified",
        "/quarantine",
        f"/documents/{w.unidentified_doc}/pages/1",
    ]:
        r = c.get(url)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
    assert c.get("/queue", headers={"HX-Request": "true"}).status_code == 401
    for url in [
        f"/records/{k}/fields/efternamn",
        f"/documents/{w.quarantined_doc}/retry",
        f"/documents/{w.unidentified_doc}/assign",
        "/logout",
    ]:
        assert c.post(url, data={"version": 1}).status_code == 303, url
    assert c.get("/static/htmx.min.js").status_code == 200  # static files are public


def test_sign_in_and_out(site):
    _, _, app = site
    c = client(app)
    page = c.get("/login")
    assert 'for="name"' in page.text and 'for="password"' in page.text
    token = csrf_of(page.text)
    bad = c.post("/login", data={"name": "olle", "password": "wrong password", "csrf": token})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    forged = client(app).post(
        "/login", data={"name": "olle", "password": PASSWORD, "csrf": "made-up"}
    )
    assert forged.status_code == 403
    c, csrf = signed_in(app)
    cookie = c.cookies.get("blankett_session")
    assert cookie and c.get("/").status_code == 200
    assert c.post("/logout").status_code == 403  # no CSRF token
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    again = client(app)
    again.cookies.set("blankett_session", cookie)
    assert again.get("/").status_code == 303  # the session is gone on the server too


def test_queue_lists_and_filters(site):
    w, _, app = site
    c, _ = signed_in(app)
    page = c.get("/queue")
    assert page.status_code == 200 and f"/records/{w.review_key}" in page.text
    assert "ansokan.jpg" in page.text and "klar.png" not in page.text
    other = c.get("/queue", params={"form": "forskoleplats"}, headers={"HX-Request": "true"})
    assert "<html" not in other.text and "No records need review" in other.text
    nxt = c.get("/review/next")
    assert nxt.headers["location"] == f"/records/{w.review_key}"


def test_the_record_screen(site):
    w, _, app = site
    c, _ = signed_in(app)
    page = c.get(f"/records/{w.review_key}").text
    assert "personnummer check digit is wrong" in page  # the issue in words
    assert re.search(r'id="card-([\w-]+)"', page).group(1) == "personnummer"  # flagged first
    assert '<label for="in-personnummer">' in page
    img = c.get(f"/records/{w.review_key}/crops/personnummer")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert img.content[:3] == b"\xff\xd8\xff"
    pg = c.get(f"/records/{w.review_key}/pages/1")
    assert pg.status_code == 200 and len(pg.content) > 10_000
    assert c.get(f"/records/{w.review_key}/pages/9").status_code == 404
    assert c.get("/records/nope:1").status_code == 404


def test_review_a_field_then_the_record_is_accepted_and_queued_for_delivery(site):
    w, db, app = site
    c, csrf = signed_in(app)
    url = f"/records/{w.review_key}/fields/personnummer"
    with db.connect() as conn:
        rec = conn.execute(select(records).where(records.c.key == w.review_key)).one()
    read = rec.fields["personnummer"]["text"]
    h = {"X-CSRF-Token": csrf}
    assert (
        c.post(url, data={"version": rec.version, "value": read, "original": read}).status_code
        == 403
    )  # no CSRF token
    # Enter on a value that still breaks its rule: refused, asks for a reason
    r = c.post(url, data={"version": rec.version, "value": read, "original": read}, headers=h)
    assert r.status_code == 422 and "Reason for keeping it" in r.text
    stale = c.post(
        url,
        data={"version": rec.version - 1, "value": "19121212-1212", "original": read},
        headers=h,
    )
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    # the corrected number (a valid check digit) is taken, and it was the last open field
    ok = c.post(
        url, data={"version": rec.version, "value": "19121212-1212", "original": read}, headers=h
    )
    assert ok.status_code == 200 and ok.headers["HX-Redirect"].startswith("/review/next")
    with db.connect() as conn:
        after = conn.execute(select(records).where(records.c.key == w.review_key)).one()
        outbox = conn.execute(
            select(deliveries.c.target, deliveries.c.status).where(
                deliveries.c.record_key == w.review_key
            )
        ).all()
        audit = conn.execute(
            select(events).where(events.c.entity_id == w.review_key, events.c.field.isnot(None))
        ).one()
    assert after.status == "accepted"
    assert after.fields["personnummer"]["value"] == "19121212-1212"
    assert sorted(outbox) == [("case_db", "pending"), ("export", "pending")]
    assert (audit.actor, audit.action, audit.field) == ("olle", "corrected", "personnummer")
    assert json.loads(audit.after) == "19121212-1212" and audit.before is not None
    history = c.get(f"/records/{w.review_key}").text
    assert "corrected" in history and "olle" in history
    done = c.post(url, data={"version": after.version, "value": "x", "original": "y"}, headers=h)
    assert done.status_code == 409  # nothing left to review


def test_an_override_needs_a_reason_and_is_kept(site):
    w, db, app = site
    c, csrf = signed_in(app)
    url = f"/records/{w.review_key}/fields/personnummer"
    with db.connect() as conn:
        rec = conn.execute(select(records).where(records.c.key == w.review_key)).one()
    read = rec.fields["personnummer"]["text"]
    r = c.post(
        url,
        data={
            "version": rec.version,
            "value": read,
            "original": read,
            "override": "the applicant's number as written; checked by phone",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200
    with db.connect() as conn:
        f = conn.execute(select(records.c.fields).where(records.c.key == w.review_key)).scalar()
    assert f["personnummer"]["overridden"] == ["personnummer_checksum"]
    assert f["personnummer"]["override_reason"].startswith("the applicant")


def test_two_operators_on_one_record(site):
    w, db, app = site
    olle, olle_csrf = signed_in(app, "olle")
    stina, stina_csrf = signed_in(app, "stina")
    olle.get(f"/records/{w.review_key}")
    page = stina.get(f"/records/{w.review_key}").text
    assert "olle opened this record" in page
    with db.connect() as conn:
        seen = conn.execute(select(records).where(records.c.key == w.review_key)).one()
    read = seen.fields["personnummer"]["text"]
    url = f"/records/{w.review_key}/fields/personnummer"
    first = olle.post(
        url,
        data={"version": seen.version, "value": read, "original": read, "override": "checked"},
        headers={"X-CSRF-Token": olle_csrf},
    )
    assert first.status_code == 200
    second = stina.post(
        url,
        data={"version": seen.version, "value": "19121212-1212", "original": read},
        headers={"X-CSRF-Token": stina_csrf},
    )
    assert second.status_code == 409
    with db.connect() as conn:
        f = conn.execute(select(records.c.fields).where(records.c.key == w.review_key)).scalar()
    assert f["personnummer"]["reviewed_by"] == "olle"  # the first change was not lost


def test_admin_only_actions(site):
    w, db, app = site
    op, op_csrf = signed_in(app, "olle")
    ad, ad_csrf = signed_in(app, "ada")
    assign = f"/documents/{w.unidentified_doc}/assign"
    page = op.get("/unidentified").text
    assert "okand.jpg" in page and "Read again" not in page
    thumb = op.get(f"/documents/{w.unidentified_doc}/pages/1?width=300")
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    assert op.get(f"/documents/{w.unidentified_doc}/pages/7").status_code == 404
    assert op.get(f"/documents/{w.quarantined_doc}/pages/1").status_code == 404
    assert (
        op.post(assign, data={"template": "parkeringstillstand", "csrf": op_csrf}).status_code
        == 403
    )
    assert ad.post(assign, data={"template": "parkeringstillstand"}).status_code == 403
    assert ad.post(assign, data={"template": "nope", "csrf": ad_csrf}).status_code == 422
    ok = ad.post(assign, data={"template": "parkeringstillstand", "csrf": ad_csrf})
    assert ok.status_code == 303
    with db.connect() as conn:
        doc = conn.execute(select(documents).where(documents.c.id == w.unidentified_doc)).one()
        left = conn.execute(
            select(records).where(records.c.document_id == w.unidentified_doc)
        ).all()
    assert (doc.status, doc.template_hint, left) == ("received", "parkeringstillstand", [])

    retry = f"/documents/{w.quarantined_doc}/retry"
    assert "tom.pdf" in op.get("/quarantine").text
    assert op.post(retry, data={"csrf": op_csrf}).status_code == 403
    still = ad.post(retry, data={"csrf": ad_csrf})
    assert still.status_code == 409 and "still empty" in still.text
    with db.connect() as conn:
        qpath = conn.execute(
            select(documents.c.quarantined).where(documents.c.id == w.quarantined_doc)
        ).scalar()
    Path(qpath).write_bytes(
        (Path(__file__).parent.parent / "forms_samples" / "felanmalan" / "blank.pdf").read_bytes()
    )  # the fix: a good copy
    assert ad.post(retry, data={"csrf": ad_csrf}).status_code == 303


def test_dashboard_and_health(site):
    _, _, app = site
    c, _ = signed_in(app)
    page = c.get("/").text
    assert "Waiting for review" in page and "empty_file" in page
    assert "Straight through today" in page
    assert c.get("/healthz").json() == {"status": "ok"}


def test_images_are_served_only_from_the_artifacts(site):
    w, db, app = site
    with db.begin() as conn:  # a crop path outside the artifacts, saved through the store
        rec = stored.load(conn, w.review_key)
        assert rec is not None and rec.find("efternamn") is not None
        stored.save(conn, rec.with_field(replace(rec.find("efternamn"), crop="/etc/passwd")))
    c, _ = signed_in(app)
    assert c.get(f"/records/{w.review_key}/crops/efternamn").status_code == 404


def test_repeated_wrong_passwords_make_this_client_wait_for_that_name(site):
    _, _, app = site
    c = client(app)
    for _ in range(5):
        token = csrf_of(c.get("/login").text)
        r = c.post("/login", data={"name": "olle", "password": "guess guess", "csrf": token})
        assert r.status_code == 401
    token = csrf_of(c.get("/login").text)
    held = c.post("/login", data={"name": "olle", "password": PASSWORD, "csrf": token})
    assert held.status_code == 429 and "Too many failed sign-ins" in held.text
    assert int(held.headers["Retry-After"]) >= 1
    signed_in(app, "stina")  # other names are not affected


def test_a_field_the_machine_was_sure_of_can_be_corrected_too(site):
    w, db, app = site
    c, csrf = signed_in(app)
    page = c.get(f"/records/{w.review_key}").text
    details = page[page.index("<details>") : page.index("</details>")]
    assert 'id="card-efternamn"' in details and '<label for="in-efternamn">' in details
    with db.connect() as conn:
        rec = conn.execute(select(records).where(records.c.key == w.review_key)).one()
    r = c.post(
        f"/records/{w.review_key}/fields/efternamn",
        data={
            "version": rec.version,
            "value": "Ekström-Lind",
            "original": rec.fields["efternamn"]["text"],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and "Checked by olle" in r.text
    with db.connect() as conn:
        after = conn.execute(select(records).where(records.c.key == w.review_key)).one()
    assert after.status == "needs_review"  # the flagged personnummer is still open
    assert after.fields["efternamn"]["value"] == "Ekström-Lind"
