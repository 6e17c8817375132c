"""The Test button (``FateFlowHook.test_connection``) against real loopback servers: each message names the
form field to fix, says what was wrong and what to do, and a dead port fails at once."""
from __future__ import annotations

import json

import pytest

from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from loopback_servers import dropping_server, other_http_server, refusing_port, self_signed_cert

CONN_ID = "RHxVAWTU"  # what Airflow's UI names the temporary copy it tests: never shown in a message


def _test(monkeypatch, **conn) -> tuple[bool, str]:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "fateflow", **conn}))
    ok, message = FateFlowHook(CONN_ID).test_connection()
    assert CONN_ID not in message and "ClientConfig" not in message, message
    assert len(message) < 300, message
    return ok, message


def test_success_names_the_server_and_fate_version(monkeypatch, fateflow_sandbox):
    ok, message = _test(monkeypatch, host="127.0.0.1", port=fateflow_sandbox.port)
    assert ok, message
    assert message.startswith(f"Connected to FATE Flow at http://127.0.0.1:{fateflow_sandbox.port}/v1/ (FATE ")


def test_auto_says_which_dialect_it_found_and_v2_on_a_1x_server_says_what_to_choose(monkeypatch, fateflow_sandbox):
    ok, message = _test(monkeypatch, host="127.0.0.1", port=fateflow_sandbox.port, extra={"api_version": "auto"})
    assert ok and message.endswith("API v1 (FATE 1.11.4) (found by auto)."), message
    ok, message = _test(monkeypatch, host="127.0.0.1", port=fateflow_sandbox.port, extra={"api_version": "v2"})
    assert not ok and message.startswith("API version: the server at http://127.0.0.1:") and "Choose v1 or auto" in message


def test_wrong_port_answers_one_short_sentence(monkeypatch):
    with refusing_port() as port:
        ok, message = _test(monkeypatch, host="127.0.0.1", port=port, extra={"retry_limit": 5})
    assert not ok
    assert message == (
        f"Nothing listens at 127.0.0.1:{port} (connection refused). Check Host and Port: FATE Flow's HTTP port "
        "is 9380 unless its service_conf.yaml says otherwise (8080 is FATE Board's)."
    )
    assert "Max retries" not in message and "urllib3" not in message


def test_the_check_tries_once_whatever_retry_limit_says(monkeypatch):
    # A server that drops every connection: a task would retry that (retry_limit 5); the check must not.
    with dropping_server() as server:
        ok, message = _test(monkeypatch, host="127.0.0.1", port=server.port,
                            extra={"retry_limit": 5, "retry_delay": 0.01, "connect_timeout": 30, "read_timeout": 300})
        assert not ok
        assert server.accepted == 1, f"{server.accepted} connections for one Test"
    assert message.startswith(f"Cannot reach FATE Flow at http://127.0.0.1:{server.port}/v1/"), message
    # ... and a task with the same connection does retry (the check's single try is the check's own).
    from airflow_provider_fateflow.client.errors import FateFlowConnectionError

    with dropping_server() as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({
            "conn_type": "fateflow", "host": "127.0.0.1", "port": server.port,
            "extra": {"retry_limit": 3, "retry_delay": 0.01, "retry_max_delay": 0.02},
        }))
        with pytest.raises(FateFlowConnectionError):
            FateFlowHook(CONN_ID).version.get()
        assert server.accepted == 3


def test_the_check_uses_short_timeouts_whatever_the_connection_says(monkeypatch):
    captured = {}

    import airflow_provider_fateflow.client as client_pkg

    real = client_pkg.FateFlowClient

    class Spy(real):  # records the configuration the check builds, then talks for real
        def __init__(self, config, *args, **kwargs):
            captured["config"] = config
            super().__init__(config, *args, **kwargs)

    monkeypatch.setattr(client_pkg, "FateFlowClient", Spy)
    with refusing_port() as port:
        _test(monkeypatch, host="127.0.0.1", port=port, extra={"connect_timeout": 30, "read_timeout": 300})
    config = captured["config"]
    assert (config.retry.attempts, config.connect_timeout, config.read_timeout) == (
        1, FateFlowHook.TEST_CONNECT_TIMEOUT, FateFlowHook.TEST_READ_TIMEOUT)


def test_unresolvable_host_names_host(monkeypatch):
    ok, message = _test(monkeypatch, host="fateflow.invalid", port=9380)
    assert not ok
    assert message == "Host 'fateflow.invalid' does not resolve to an address. Check Host."


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (405, b'{"detail":"Method Not Allowed"}', "application/json"),  # e.g. a FastAPI app
        (404, b"<html><body>Not Found</body></html>", "text/html"),  # e.g. FATE Board or nginx
        (200, b'{"status": "ok"}', "application/json"),  # answers, but not the FATE envelope
    ],
)
def test_another_web_server_is_not_a_fate_flow(monkeypatch, status, body, content_type):
    with other_http_server(status, body, content_type) as port:
        ok, message = _test(monkeypatch, host="127.0.0.1", port=port)
    assert not ok
    assert message.startswith(f"The server at 127.0.0.1:{port} answered, but it is not a FATE Flow v1 server ("), message
    assert message.endswith("Check Host and Port: FATE Flow's HTTP port is 9380 unless its service_conf.yaml says "
                            "otherwise (8080 is FATE Board's).")
    if status != 200:
        assert f"HTTP {status}" in message


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")  # the Disable TLS verification case, on purpose
def test_self_signed_certificate_is_a_tls_failure_with_what_to_do(monkeypatch, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    with other_http_server(tls_cert=(cert, key)) as port:
        ok, message = _test(monkeypatch, host="127.0.0.1", port=port, schema="https")
        assert not ok
        assert message == (
            f"TLS handshake with https://127.0.0.1:{port}/v1/ failed: its certificate could not be verified "
            "(self-signed certificate). Set CA bundle path to the CA that signed FATE Flow's certificate, or turn "
            "on Disable TLS verification (testing only)."
        )
        # With that CA bundle the handshake succeeds, and the check then sees a server that is not FATE Flow.
        ok, message = _test(monkeypatch, host="127.0.0.1", port=port, schema="https", extra={"ca_bundle": str(cert)})
        assert not ok and "is not a FATE Flow v1 server (HTTP 405" in message, message
        ok, message = _test(monkeypatch, host="127.0.0.1", port=port, schema="https",
                            extra={"disable_tls_verify": True})
        assert not ok and "is not a FATE Flow v1 server (HTTP 405" in message, message


def test_https_to_a_plain_http_fate_flow_says_set_protocol_to_http(monkeypatch, fateflow_sandbox):
    ok, message = _test(monkeypatch, host="127.0.0.1", port=fateflow_sandbox.port, schema="https")
    assert not ok
    assert message == (
        f"TLS handshake with https://127.0.0.1:{fateflow_sandbox.port}/v1/ failed: the server does not speak TLS "
        f"on port {fateflow_sandbox.port}. Set Protocol to http, or use FATE Flow's https port."
    )


@pytest.mark.parametrize(
    ("conn", "expected"),
    [
        ({"schema": "htps"}, "Bad connection settings: Protocol: 'htps' is not http or https. Set it to http or "
                             "https, or leave it empty for http"),
        ({"host": "htps://127.0.0.1"}, "Bad connection settings: Host: 'htps://127.0.0.1' starts with 'htps://', "
                                       "which is not http:// or https://. Write the address with http:// or "
                                       "https://, or only the host name"),
        ({"extra": {"read_timeout": "soon"}}, "Bad connection settings: Read timeout (s): 'soon' is not a number "
                                              "of seconds. Write a number such as 60, or leave it empty"),
        ({"extra": {"connect_timeout": -3}}, "Bad connection settings: Connect timeout (s): -3 is not a positive "
                                             "number. Write a number above 0, or leave it empty"),
        ({"extra": {"initiator_role": "gust"}}, "Bad connection settings: Default role: 'gust' is not a FATE role. "
                                                "Choose guest, host, arbiter or local"),
        ({"extra": {"board_url": "fateboard:8080"}}, "Bad connection settings: FATE Board URL: 'fateboard:8080' is "
                                                     "not a full http(s) address. Write it with its scheme, e.g. "
                                                     "http://fateboard:8080"),
        ({"extra": {"initiator_party_id": "nine"}}, "Bad connection settings: Default party id: 'nine' is not an "
                                                    "integer. Write a whole number, or leave it empty"),
        ({"extra": {"api_version": "v3"}}, "Bad connection settings: API version: 'v3' is not a FATE Flow API "
                                           "version. Choose v1, v2 or auto, or leave it empty for v1"),
        ({"extra": {"proxies": "proxy:3128"}}, "Bad connection settings: Proxies (JSON): 'proxy:3128' is not a JSON "
                                               'object of proxy URLs. Write e.g. {"https": '
                                               '"http://proxy.example:3128"}, or leave it empty'),
    ],
)
def test_bad_fields_are_named_as_the_form_labels_them(monkeypatch, fateflow_sandbox, conn, expected):
    ok, message = _test(monkeypatch, **{"host": "127.0.0.1", "port": fateflow_sandbox.port, **conn})
    assert not ok
    assert message == expected + "."
