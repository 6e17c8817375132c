"""FATE Flow client authentication: HMAC-SHA1 request signature (API.md §2.1)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from urllib.parse import quote, urlencode

__all__ = ["sign", "AUTH_HEADERS"]

#: Header names of a signed request; ``SIGNATURE`` is never logged.
AUTH_HEADERS = ("TIMESTAMP", "NONCE", "APP_KEY", "SIGNATURE")


def encode_form(form: Mapping[str, object] | None) -> str:
    """Form fields sorted by key, RFC 3986 percent-encoded (space -> ``%20``); ``""`` if none."""
    if not form:
        return ""
    return urlencode(sorted((str(k), str(v)) for k, v in form.items()), quote_via=quote, safe="-._~")


def sign(
    app_key: str,
    secret_key: str,
    path_url: str,
    body: bytes | None,
    form: Mapping[str, object] | None,
    *,
    timestamp_ms: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Build the four authentication headers of one request.

    The signed message is ``TIMESTAMP\\nNONCE\\nAPP_KEY\\n<path+query>\\n<raw JSON body>\\n<form>``.

    :param app_key: the server's ``http_app_key``.
    :param secret_key: the server's ``http_secret_key``.
    :param path_url: path plus query exactly as sent, e.g. ``/v1/job/query`` (no trailing ``?``).
    :param body: raw JSON body bytes exactly as sent (``None``/empty for no body or non-JSON bodies).
    :param form: text form fields (multipart or urlencoded); file parts excluded. ``None`` for none.
    :param timestamp_ms: Unix time in milliseconds (default: now).
    :param nonce: any non-empty random string (default: a uuid1 string, as the SDK).
    :returns: ``{"TIMESTAMP", "NONCE", "APP_KEY", "SIGNATURE"}``.
    """
    ts = str(int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms))
    nonce = nonce or str(uuid.uuid1())
    if path_url.endswith("?"):
        path_url = path_url[:-1]
    parts = [ts.encode(), nonce.encode(), app_key.encode(), path_url.encode(), body or b"", encode_form(form).encode()]
    digest = hmac.new(secret_key.encode(), b"\n".join(parts), hashlib.sha1).digest()
    return {"TIMESTAMP": ts, "NONCE": nonce, "APP_KEY": app_key, "SIGNATURE": base64.b64encode(digest).decode("ascii")}
