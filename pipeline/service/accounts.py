"""Local accounts and sign-in (the ``users`` and ``sessions`` tables): argon2 password
hashes, server-side sessions, CSRF tokens.

The session cookie holds a random token; the database keeps only its SHA-256, with the
user, the session's CSRF token and its expiry. Every state-changing request must carry
that CSRF token (form field ``csrf`` or header ``X-CSRF-Token``). Sign-in itself is
protected by a double-submit token (a cookie and a form field that must match).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from pipeline.db import state
from pipeline.db.schema import events, sessions, users
from pipeline.errors import StateError

ROLES = ("operator", "admin")
MIN_PASSWORD = 10
# Failed sign-ins per user name within LOCK_MINUTES before that name is refused for a while.
MAX_FAILURES = 5
LOCK_MINUTES = 15


class SignInLocked(Exception):
    """Too many failed sign-ins for one user name; try again later."""


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
        state.log_event(conn, "user", uid, "password_changed", actor="cli")


def has_users(db: Engine) -> bool:
    with db.connect() as conn:
        return conn.execute(select(users.c.id).limit(1)).first() is not None


def sign_in(db: Engine, name: str, password: str, hours: float) -> tuple[str, Principal] | None:
    """A new session for valid credentials: (cookie token, principal); None otherwise.
    Raises ``SignInLocked`` after MAX_FAILURES failures for the name within LOCK_MINUTES."""
    since = state.now() - dt.timedelta(minutes=LOCK_MINUTES)
    with db.connect() as conn:
        failures = conn.execute(
            select(func.count()).where(
                events.c.entity == "sign_in",
                events.c.entity_id == name[:200],
                events.c.action == "failed",
                events.c.at >= since,
            )
        ).scalar_one()
        u = conn.execute(
            select(users).where(users.c.name == name, users.c.active.is_(True))
        ).one_or_none()
    if failures >= MAX_FAILURES:
        raise SignInLocked()
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
            state.log_event(conn, "sign_in", name[:200], "failed", actor="anonymous")
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = state.now()
    with db.begin() as conn:
        if ph.check_needs_rehash(u.password_hash):
            conn.execute(
                update(users).where(users.c.id == u.id).values(password_hash=ph.hash(password))
            )
        conn.execute(delete(sessions).where(sessions.c.expires_at < now))
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
