"""Store URLs: what a user may type, and the masked form that is safe to print or log."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

#: The environment variable that names the default store.
STORE_ENV = "MT_STORE"
#: What a password is replaced with in printed URLs and messages.
MASK = "***"
#: Query parameters that carry secrets (libpq and psycopg spell them so).
_SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "sslpassword", "secret", "token", "api_key"})
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/?#@\s]*):(?P<password>[^@\s]*)@")
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:" + "|".join(sorted(_SECRET_PARAMS)) + r")=)(?P<value>[^&#\s]*)", re.IGNORECASE
)


def default_store_path() -> Path:
    """The SQLite file of the default store, ``~/.meta_tune/store.db`` (its folder is made on first write)."""
    return Path.home() / ".meta_tune" / "store.db"


def default_store_url() -> str:
    """``$MT_STORE`` if set, else the SQLite file ``~/.meta_tune/store.db``."""
    return os.environ.get(STORE_ENV) or f"sqlite:///{default_store_path()}"


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL from what a user may type: a file path, ``sqlite:///~/x.db``, ``postgresql://``."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("sqlite:///") and url[len("sqlite:///") :].startswith("~"):
        return f"sqlite:///{Path(url[len('sqlite:///') :]).expanduser()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def mask_url(url: str) -> str:
    """``url`` with its password (and any password-like query parameter) replaced by ``***``.

    The one function every printed or logged store URL goes through, e.g.
    ``postgresql+psycopg://tuner:***@db-host/meta_tune``. Works on any text that holds URLs,
    also ones SQLAlchemy cannot parse.
    """
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", masked)


def secrets_of(url: str) -> list[str]:
    """The secrets in ``url`` (password, secret query values), as written and as decoded."""
    from urllib.parse import unquote

    found = [m["password"] for m in _USERINFO.finditer(url)]
    found += [m["value"] for m in _QUERY_SECRET.finditer(url)]
    variants = {
        v for s in found if s for v in (s, unquote(s), quote(unquote(s), safe=""), quote_plus(unquote(s)))
    }
    # A secret of one or two characters would garble every message it was masked in.
    return sorted((v for v in variants if len(v) >= 3 and v != MASK), key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, a log line) with ``url``'s secrets and any URL password masked."""
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return mask_url(text)
