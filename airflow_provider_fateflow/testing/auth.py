"""Client authentication of FATE-Flow 1.9+ (``hook/flow/client_authentication.py``), API.md §2.1."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

MAX_TIMESTAMP_INTERVAL = 60
HEADERS = ["TIMESTAMP", "NONCE", "APP_KEY", "SIGNATURE"]


def signature(secret_key: str, timestamp: str, nonce: str, app_key: str, full_path: str, body: bytes,
              form: Mapping[str, Any] | None) -> str:
    """``base64(HMAC-SHA1(secret, ts \\n nonce \\n app_key \\n path?query \\n json body \\n sorted form))``.

    :param full_path: path plus raw query string as sent (no trailing ``?`` when there is no query).
    :param body: the raw body when it is a non-empty JSON request, else ``b""``.
    :param form: form fields (urlencoded or multipart text parts), or None.
    """
    form_part = b""
    if form:
        form_part = urlencode(sorted((k, str(v)) for k, v in form.items()), quote_via=quote,
                              safe="-._~").encode("ascii")
    msg = b"\n".join([timestamp.encode("ascii"), nonce.encode("ascii"), app_key.encode("ascii"),
                      full_path.rstrip("?").encode("ascii"), body, form_part])
    return base64.b64encode(hmac.new(secret_key.encode("ascii"), msg, hashlib.sha1).digest()).decode("ascii")


def check(app_key: str, secret_key: str, headers: Mapping[str, str], full_path: str, body: bytes,
          json_body: Any, form: Mapping[str, Any] | None, now: float | None = None) -> str | None:
    """Return the retmsg of a failed check (retcode 109), or None when the request is authentic."""
    if not all(headers.get(h) for h in HEADERS):
        return f"requirement headers parameters: {HEADERS}"
    try:
        ts = int(headers["TIMESTAMP"]) / 1000
    except ValueError:
        return "Invalid TIMESTAMP"
    now = time.time() if now is None else now
    if not now - MAX_TIMESTAMP_INTERVAL < ts < now + MAX_TIMESTAMP_INTERVAL:
        return f"TIMESTAMP is more than {MAX_TIMESTAMP_INTERVAL} seconds away from the server time"
    if not headers["NONCE"]:
        return "Invalid NONCE"
    if headers["APP_KEY"] != app_key:
        return "Unknown APP_KEY"
    try:
        expected = signature(secret_key, headers["TIMESTAMP"], headers["NONCE"], headers["APP_KEY"], full_path,
                             body if json_body else b"", form)
    except UnicodeEncodeError:
        return "signature authentication failed"
    if not hmac.compare_digest(expected, headers["SIGNATURE"]):
        return "signature authentication failed"
    return None
