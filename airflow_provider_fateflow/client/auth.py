"""FATE Flow client authentication: v1's HMAC-SHA1 request signature and v2's MD5 one (API.md §2.1)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Mapping
from urllib.parse import quote, urlencode

__all__ = ["sign", "sign_v2", "AUTH_HEADERS", "AUTH_HEADERS_V2"]

#: Header names of a signed request; ``SIGNATURE`` is never logged.
AUTH_HEADERS = ("TIMESTAMP", "NONCE", "APP_KEY", "SIGNATURE")
#: Header names of a signed FATE Flow 2.x request; ``Signature`` is never logged.
AUTH_HEADERS_V2 = ("appId", "userName", "Timestamp", "Nonce", "Signature")


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


def sign_v2(
    app_id: str,
    app_token: str,
    *,
    user_name: str = "",
    timestamp_ms: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The five authentication headers of one FATE Flow 2.x request (fate_client's ``base_utils.py``).

    ``Signature = md5(md5(appId + userName + Nonce + Timestamp) + app_token)`` in lower-case hex; the server
    (``fate_flow.controller.permission.Authentication.md5_verify``) refuses a Timestamp older than 60 s and a
    Nonce that is not 4 characters long. Neither the path nor the body is signed.

    :param app_id: the app id (``client/create`` on the server; the admin app is ``admin``).
    :param app_token: the app token; never logged.
    :param user_name: the ``userName`` header (default empty, as the SDK).
    :param timestamp_ms: Unix time in milliseconds (default: now).
    :param nonce: 4 characters (default: 4 random digits, as the SDK).
    """
    ts = str(int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms))
    nonce = nonce or str(random.randint(1000, 9999))
    key = hashlib.md5(f"{app_id}{user_name}{nonce}{ts}".encode()).hexdigest().lower()
    signature = hashlib.md5(f"{key}{app_token}".encode()).hexdigest().lower()
    return {"appId": app_id, "userName": user_name, "Timestamp": ts, "Nonce": nonce, "Signature": signature}
