"""The hook reads a `fateflow` connection in each form users write it: URI, JSON and form extras."""
from __future__ import annotations

import json

import pytest

from airflow_provider_fateflow.hooks.fateflow import FateFlowConnectionConfigError, FateFlowHook

SECRET = "s3cr3t-never-shown"


def _hook(monkeypatch, value: str, conn_id: str = "fateflow_default", **params) -> FateFlowHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    return FateFlowHook(conn_id, **params)


def test_uri_connection(monkeypatch):
    hook = _hook(
        monkeypatch,
        f"fateflow://app-1:{SECRET}@fate.example:9443/https?board_url=http%3A%2F%2Fboard%3A8080"
        "&initiator_role=guest&initiator_party_id=9999&read_timeout=90&verify=false",
    )
    config = hook.config
    assert config.base_url == "https://fate.example:9443/v1/"
    assert (config.app_key, config.secret_key) == ("app-1", SECRET)
    assert config.board_url == "http://board:8080"
    assert (config.initiator_role, config.initiator_party_id) == ("guest", 9999)
    assert config.read_timeout == 90.0 and config.verify is False


def test_json_connection_with_defaults(monkeypatch):
    hook = _hook(monkeypatch, json.dumps({"conn_type": "fateflow", "host": "10.1.2.3"}))
    config = hook.config
    assert config.base_url == "http://10.1.2.3:9380/v1/"
    assert config.app_key is None and config.secret_key is None
    assert config.verify is True and config.proxies is None
    assert config.retry.attempts == 5


def test_form_style_prefixed_extras_and_hook_params_win(monkeypatch):
    extra = {
        "extra__fateflow__connect_timeout": "3",
        "extra__fateflow__retry_limit": "2",
        "extra__fateflow__proxies": '{"http": "http://proxy:3128"}',
        "extra__fateflow__verify": "/etc/ssl/ca.pem",
    }
    hook = _hook(
        monkeypatch,
        json.dumps({"conn_type": "fateflow", "host": "https://flow.example", "extra": extra}),
        read_timeout=5,
        retry_limit=7,
    )
    config = hook.config
    assert config.base_url == "https://flow.example:9380/v1/"
    assert config.connect_timeout == 3.0 and config.read_timeout == 5.0
    assert config.retry.attempts == 7
    assert config.proxies == {"http": "http://proxy:3128"}
    assert config.verify == "/etc/ssl/ca.pem"


@pytest.mark.parametrize(
    ("conn", "field", "label", "message"),
    [
        ({"conn_type": "fateflow"}, "host", "Host", "Host: is empty"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"read_timeout": "soon"}}, "read_timeout",
         "Read timeout (s)", "'soon' is not a number of seconds"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"initiator_party_id": "guest"}}, "initiator_party_id",
         "Default party id", "'guest' is not an integer"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"proxies": "proxy:3128"}}, "proxies", "Proxies (JSON)",
         "is not a JSON object of proxy URLs"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"api_version": "v9"}}, "api_version", "API version",
         "'v9' is not a FATE Flow API version"),
        ({"conn_type": "fateflow", "host": "h", "schema": "ftp"}, "schema", "Protocol", "'ftp' is not http or https"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"initiator_role": "gust"}}, "initiator_role",
         "Default role", "'gust' is not a FATE role"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"board_url": "board:8080"}}, "board_url",
         "FATE Board URL", "Write it with its scheme, e.g. http://board:8080"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"disable_tls_verify": "maybe"}}, "disable_tls_verify",
         "Disable TLS verification", "'maybe' is not on or off"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"disable_tls_verify": True, "ca_bundle": "/ca.pem"}},
         "ca_bundle", "CA bundle path", "is set while Disable TLS verification is on"),
        ({"conn_type": "fateflow", "host": "h", "port": 70000}, "port", "Port", "70000 is not a TCP port"),
        ({"conn_type": "fateflow", "host": "http://h:99999"}, "host", "Host", "has a port that is not 1 to 65535"),
        ({"conn_type": "fateflow", "host": "https://"}, "host", "Host", "'https://' has no host name"),
        ({"conn_type": "fateflow", "host": "h:abc"}, "host", "Host", "Write the host name in Host and the port in Port"),
        ({"conn_type": "fateflow", "host": "h", "extra": {"max_extract_bytes": -1}}, "max_extract_bytes",
         "Largest unpacked download (bytes)", "-1 is not a positive number of bytes"),
    ],
)
def test_bad_connection_fields_name_the_field(monkeypatch, conn, field, label, message):
    from airflow_provider_fateflow.client.errors import FateFlowInputError

    hook = _hook(monkeypatch, json.dumps(conn), conn_id="fateflow_bad")
    with pytest.raises(FateFlowConnectionConfigError, match="fateflow_bad") as err:
        hook.config
    assert isinstance(err.value, FateFlowInputError) and isinstance(err.value, ValueError)
    assert (err.value.field, err.value.label) == (field, label)
    assert message in str(err.value) and message in err.value.field_message
    assert err.value.field_message.startswith(f"{label}: ")


def test_every_api_version_of_the_form_is_spoken(monkeypatch):
    from airflow_provider_fateflow.get_provider_info import API_VERSIONS

    for version in API_VERSIONS:
        hook = _hook(monkeypatch, json.dumps({"conn_type": "fateflow", "host": "h", "extra": {"api_version": version}}))
        assert hook.config.api_version == version


def test_form_toggle_and_ca_bundle_set_tls_verification(monkeypatch):
    def verify(extra: dict) -> object:
        return _hook(monkeypatch, json.dumps({"conn_type": "fateflow", "host": "h", "extra": extra})).config.verify

    assert verify({}) is True
    assert verify({"disable_tls_verify": None, "ca_bundle": None}) is True  # what the 3.3 form saves when untouched
    assert verify({"disable_tls_verify": False}) is True
    assert verify({"disable_tls_verify": True}) is False
    assert verify({"extra__fateflow__disable_tls_verify": "true"}) is False
    assert verify({"ca_bundle": "/etc/ssl/fate-ca.pem"}) == "/etc/ssl/fate-ca.pem"
    assert verify({"verify": "false"}) is False  # URI/JSON connections keep the one-key form


def test_form_saved_nulls_mean_unset_and_take_the_current_defaults(monkeypatch):
    from airflow_provider_fateflow.client.config import ClientConfig
    from airflow_provider_fateflow.get_provider_info import CONN_FIELDS

    extra = {name: None for name in CONN_FIELDS}  # every field left empty in the form
    extra.update({"board_url": "http://board:8080", "initiator_role": "Guest", "initiator_party_id": 9999})
    config = _hook(monkeypatch, json.dumps({"conn_type": "fateflow", "host": "h", "extra": extra})).config
    defaults = ClientConfig(host="h")
    assert (config.connect_timeout, config.read_timeout, config.download_timeout) == (
        defaults.connect_timeout, defaults.read_timeout, defaults.download_timeout)
    assert config.retry.attempts == defaults.retry.attempts and config.verify is True and config.proxies is None
    assert (config.board_url, config.initiator_role, config.initiator_party_id) == ("http://board:8080", "guest", 9999)


def test_proxies_as_the_form_stores_them_a_json_object(monkeypatch):
    extra = {"proxies": {"https": "http://proxy.example:3128"}}
    config = _hook(monkeypatch, json.dumps({"conn_type": "fateflow", "host": "h", "extra": extra})).config
    assert config.proxies == {"https": "http://proxy.example:3128"}


def test_secret_never_in_repr_of_hook_or_config(monkeypatch):
    hook = _hook(monkeypatch, f"fateflow://app:{SECRET}@fate.example:9380")
    assert SECRET not in repr(hook)
    assert SECRET not in repr(hook.config)
    assert SECRET not in str(hook.config)


def test_test_connection_reports_unreachable_server(monkeypatch):
    # Port 9 on loopback: nothing listens there; the answer names why the test failed.
    hook = _hook(monkeypatch, "fateflow://127.0.0.1:9?connect_timeout=2&retry_limit=1")
    ok, message = hook.test_connection()
    assert ok is False
    assert "Nothing listens at 127.0.0.1:9 (connection refused)" in message



def test_download_timeout_and_extract_cap_from_extras_and_hook_params(monkeypatch):
    extra = {"download_timeout": "1200", "max_extract_bytes": 8 * 1024**3}
    value = json.dumps({"conn_type": "fateflow", "host": "h", "extra": extra})
    config = _hook(monkeypatch, value).config
    assert config.download_timeout == 1200.0 and config.max_extract_bytes == 8 * 1024**3
    config = _hook(monkeypatch, value, download_timeout=30, max_extract_bytes=1024).config
    assert config.download_timeout == 30.0 and config.max_extract_bytes == 1024
    config = _hook(monkeypatch, json.dumps({"conn_type": "fateflow", "host": "h"})).config
    assert config.download_timeout == 600.0 and config.max_extract_bytes == 2 * 1024**3
    for bad, message in (("lots", "'lots' is not an integer"), (-1, "-1 is not a positive number of bytes")):
        value = json.dumps({"conn_type": "fateflow", "host": "h", "extra": {"max_extract_bytes": bad}})
        with pytest.raises(FateFlowConnectionConfigError, match=message):
            _ = _hook(monkeypatch, value).config
