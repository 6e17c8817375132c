"""Integration: signed requests against a real FATE Flow 2.2.0 with client authentication on.

Skipped unless ``FATEFLOW_V2_AUTH_URL`` points at one (scripts/fate2/run_suite.sh starts it with
``FATE2_CLIENT_AUTH=1`` after the main suite). The server creates the admin app ``admin`` with the token
``fate_flow_admin`` (fate_flow.settings ADMIN_ID/ADMIN_KEY).
"""
from __future__ import annotations

import os

import pytest

from airflow_provider_fateflow.client import ClientConfig, FateFlowAuthError, RetryPolicy
from airflow_provider_fateflow.client.v2 import FateFlowV2Client

URL = os.environ.get("FATEFLOW_V2_AUTH_URL")
pytestmark = pytest.mark.skipif(not URL, reason="FATEFLOW_V2_AUTH_URL is not set (scripts/fate2/run_suite.sh)")


def _client(app_id: str | None, token: str | None) -> FateFlowV2Client:
    return FateFlowV2Client(ClientConfig(URL or "", api_version="v2", app_key=app_id, secret_key=token,
                                         retry=RetryPolicy(attempts=1)))


def test_signed_requests_are_accepted():
    with _client("admin", "fate_flow_admin") as c:
        assert c.job.query("nonexistent123") == []
        (instance,) = c.service.get_fateflow_info().values()
        assert instance["version"] == "2.2.0"


def test_a_wrong_token_is_an_auth_error():
    with _client("admin", "not-the-token") as c, pytest.raises(FateFlowAuthError) as err:
        c.job.query("nonexistent123")
    assert err.value.reason == "bad_signature" and "not-the-token" not in str(err.value)


def test_an_unknown_app_id_is_an_auth_error():
    with _client("nobody", "x") as c, pytest.raises(FateFlowAuthError) as err:
        c.job.query("nonexistent123")
    # 2.2.0 answers an app id it does not know with 5005 (no permission), not 5002 (no found appid)
    assert err.value.retcode == 5005 and err.value.reason == "no_permission", str(err.value)


def test_unsigned_requests_are_an_auth_error_saying_what_to_set():
    with _client(None, None) as c, pytest.raises(FateFlowAuthError) as err:
        c.job.query("nonexistent123")
    assert err.value.reason == "missing_headers" and "login" in str(err.value)
