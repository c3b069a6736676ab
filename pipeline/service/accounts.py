"""Local accounts and sign-in (the ``users`` and ``sessions`` tables): argon2 password
hashes, server-side sessions, CSRF tokens.

The session cookie holds a random token; the database keeps only its SHA-256, with the
user, the session's CSRF token and its expiry. Every state-changing request must carry
that CSRF token (form field ``csrf`` or header ``X-CSRF-Token``). Sign-in itself is
protected by a double-submit token (a cookie and a form field that must match), and
throttled per user name and client address in the ``sign_in_throttle`` table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from pipeline.db import state
from pipeline.db.schema import sessions, sign_in_throttle, users
from pipeline.errors import SignInThrottled, StateError

ROLES = ("operator", "admin")
MIN_PASSWORD = 10
# Sign-in throttle, per user name *and* client address (a stranger's failures never slow
# the same name down from another client): the first few failures cost nothing (typing
# mistakes), then each try must wait, twice as long after every further failure, up to
# MAX_DELAY. A day without failures, a right password or a new password starts over.
FREE_FAILURES = 5
FIRST_DELAY = 1.0  # seconds
MAX_DELAY = 15 * 60.0
FORGET_AFTER = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request."""

    user_id: int
    name: str
    role: str
    csrf: str
    token_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's current recommended parameters


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(db: Engine, name: str, password: str, role: str) -> int:
    if role not in ROLES:
        raise StateError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise StateError(f"a password needs at least {MIN_PASSWORD} characters")
    try:
        with db.begin() as conn:
            res = conn.execute(
                insert(users).values(
                    name=name,
                    password_hash=_hasher().hash(password),
                    role=role,
                    active=True,
                    created_at=state.now(),
                )
            )
            uid = int(res.inserted_primary_key[0])  # type: ignore[index]
            state.log_event(conn, "user", uid, "created", after=role, actor="cli")
    except IntegrityError:
        raise StateError(f"there is already a user called {name!r}") from None
    return uid


def set_password(db: Engine, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StateError(f"a password needs at least {MIN_PASSWORD} characters")
    with db.begin() as conn:
        n = conn.execute(
            update(users).where(users.c.name == name).values(password_hash=_hasher().hash(password))
        ).rowcount
        if n != 1:
            raise StateError(f"no user called {name!r}")
        uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar_one()
        conn.execute(delete(sessions).where(sessions.c.user_id == uid))  # sign out everywhere
        conn.execute(delete(sign_in_throttle).where(sign_in_throttle.c.name == name))
        state.log_event(conn, "user", uid, "password_changed", actor="cli")


def has_users(db: Engine) -> bool:
    with db.connect() as conn:
        return conn.execute(select(users.c.id).limit(1)).first() is not None


def sign_in(
    db: Engine, name: str, password: str, hours: float, client: str
) -> tuple[str, Principal] | None:
    """A new session for valid credentials: (cookie token, principal); None otherwise.

    The try is counted against (name, client) *before* the password is checked, in one
    conditional update, so parallel tries cannot all be checked before the first failure
    is written; a try that must wait raises ``SignInThrottled`` unchecked.
    """
    name, client = name[:200], (client or "unknown")[:64]
    _count_try(db, name, client)
    with db.connect() as conn:
        u = conn.execute(
            select(users).where(users.c.name == name, users.c.active.is_(True))
        ).one_or_none()
    ph = _hasher()
    ok = False
    if u is None:
        # Spend the same time as a real check, so response times do not reveal user names.
        ph.hash(password)
    else:
        try:
            ok = ph.verify(u.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    if not ok or u is None:
        with db.begin() as conn:
            state.log_event(
                conn, "sign_in", name, "failed", actor="anonymous", reason=f"from {client}"
            )
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = state.now()
    with db.begin() as conn:
        if ph.check_needs_rehash(u.password_hash):
            conn.execute(
                update(users).where(users.c.id == u.id).values(password_hash=ph.hash(password))
            )
        conn.execute(delete(sessions).where(sessions.c.expires_at < now))
        t = sign_in_throttle
        conn.execute(
            delete(t).where(
                ((t.c.name == name) & (t.c.client == client))
                | (t.c.updated_at < now - FORGET_AFTER)
            )
        )
        conn.execute(
            insert(sessions).values(
                token_hash=_digest(token),
                user_id=u.id,
                csrf=csrf,
                created_at=now,
                expires_at=now + dt.timedelta(hours=hours),
            )
        )
        state.log_event(conn, "user", u.id, "signed_in", actor=u.name)
    return token, Principal(u.id, u.name, u.role, csrf, _digest(token))


def delay_after(failures: int) -> float:
    """Seconds the pair waits after its ``failures``-th counted try."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(FIRST_DELAY * 2.0 ** min(failures - FREE_FAILURES, 30), MAX_DELAY)


def _count_try(db: Engine, name: str, client: str) -> None:
    """Count one try of (name, client), or raise ``SignInThrottled`` while it must wait."""
    for _ in range(10):  # a parallel first try of the same pair may get in between
        try:
            with db.begin() as conn:
                if _counted(conn, name, client, state.now()):
                    return
        except IntegrityError:
            continue
    raise SignInThrottled(1)


def _counted(conn: Connection, name: str, client: str, now: dt.datetime) -> bool:
    """One conditional update counts the try when the pair need not wait; a new pair gets
    its row. False: another try changed the row between two statements; count again."""
    t = sign_in_throttle
    pair = (t.c.name == name) & (t.c.client == client)
    failures = conn.execute(
        update(t)
        .where(pair, or_(t.c.blocked_until.is_(None), t.c.blocked_until <= now))
        .values(
            failures=case((t.c.updated_at < now - FORGET_AFTER, 1), else_=t.c.failures + 1),
            updated_at=now,
        )
        .returning(t.c.failures)
    ).scalar_one_or_none()
    if failures is None:
        row = conn.execute(select(t.c.blocked_until).where(pair)).one_or_none()
        if row is not None:
            until = state.utc(row.blocked_until)
            if until is None or until <= now:
                return False
            raise SignInThrottled(max(1, math.ceil((until - now).total_seconds())))
        conn.execute(insert(t).values(name=name, client=client, failures=1, updated_at=now))
        failures = 1
    wait = delay_after(failures)
    if wait:
        conn.execute(update(t).where(pair).values(blocked_until=now + dt.timedelta(seconds=wait)))
    return True


def principal_for(db: Engine, token: str | None) -> Principal | None:
    if not token:
        return None
    with db.connect() as conn:
        row = conn.execute(
            select(
                sessions.c.csrf,
                sessions.c.expires_at,
                sessions.c.token_hash,
                users.c.id,
                users.c.name,
                users.c.role,
            )
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == _digest(token), users.c.active.is_(True))
        ).one_or_none()
    if row is None:
        return None
    if state.utc(row.expires_at) < state.now():
        return None
    return Principal(row.id, row.name, row.role, row.csrf, row.token_hash)


def sign_out(db: Engine, who: Principal) -> None:
    with db.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == who.token_hash))
        state.log_event(conn, "user", who.user_id, "signed_out", actor=who.name)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
