"""api_version v1 / v2 / auto: parsing, one-request detection against recorded answers of both generations,
and the client the hook builds for each."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from _v2_replay import Replay, load

from airflow_provider_fateflow.client import ClientConfig, FateFlowClient, FateFlowResponseError, RetryPolicy
from airflow_provider_fateflow.client.config import parse_api_version
from airflow_provider_fateflow.client.dialect import (
    adetect_dialect,
    build_async_client,
    build_client,
    detect_dialect,
)
from airflow_provider_fateflow.client.v2 import AsyncFateFlowV2Client, FateFlowV2Client


def _v1(shared_dir: Path, name: str) -> dict:
    """A v1 recording (fateflow-v1/recordings) as a replay item."""
    rec = json.loads((shared_dir / "fateflow-v1" / "recordings" / f"{name}.json").read_text())
    resp = rec["response"]
    return {"status": resp["status"], "headers": resp["headers"], "response": resp["json"]}


def _config(replay: Replay, api_version: str = "auto") -> ClientConfig:
    return ClientConfig("127.0.0.1", replay.port, api_version=api_version, retry=RetryPolicy(attempts=1))


@pytest.mark.parametrize("value, expected", [(None, "v1"), ("", "v1"), ("v1", "v1"), ("V2", "v2"), ("/v2", "v2"),
                                             (2, "v2"), ("2.x", "v2"), ("auto", "auto"), ("AUTO ", "auto")])
def test_api_version_values(value, expected):
    assert parse_api_version(value) == expected


@pytest.mark.parametrize("value", ["v3", "latest", "1.11"])
def test_unknown_api_version_names_the_accepted_ones(value):
    with pytest.raises(ValueError, match="one of v1, v2, auto"):
        parse_api_version(value)


def test_a_v2_server_is_found_with_one_request(replay: Replay):
    replay.serve("server_fateflow")
    info = detect_dialect(_config(replay))
    assert (info.dialect, info.version) == ("v2", "2.2.0") and str(info) == "v2 (FATE Flow 2.2.0)"
    assert [(s.method, s.path) for s in replay.seen] == [("GET", "/v2/server/fateflow")]


def test_a_v1_server_is_found_and_its_fate_version_read(replay: Replay, shared_dir: Path):
    replay.serve(_v1(shared_dir, "odd.unknown_route__unknown_api_version"), _v1(shared_dir, "version.get__success"))
    info = detect_dialect(_config(replay))
    assert (info.dialect, info.version) == ("v1", "1.11.4") and str(info) == "v1 (FATE 1.11.4)"
    assert [(s.method, s.path) for s in replay.seen] == [("GET", "/v2/server/fateflow"), ("POST", "/v1/version/get")]


def test_an_answer_of_neither_generation_is_a_response_error(replay: Replay):
    replay.serve({"status": 200, "headers": {}, "response": {"hello": "proxy"}})
    with pytest.raises(FateFlowResponseError, match="neither FATE Flow 1.x's nor 2.x's"):
        detect_dialect(_config(replay))


def test_build_client_for_each_dialect(replay: Replay, shared_dir: Path):
    assert isinstance(build_client(_config(replay, "v2")), FateFlowV2Client)
    v1 = build_client(_config(replay, "v1"))
    assert isinstance(v1, FateFlowClient) and v1.config.base_url.endswith("/v1/")
    assert replay.seen == []  # explicit dialects cost no request
    replay.serve("server_fateflow")
    auto = build_client(_config(replay))
    assert isinstance(auto, FateFlowV2Client) and auto.config.base_url.endswith("/v2/")
    replay.serve(_v1(shared_dir, "odd.unknown_route__unknown_api_version"), _v1(shared_dir, "version.get__success"))
    assert isinstance(build_client(_config(replay)), FateFlowClient)


def test_async_detection_and_client(replay: Replay):
    replay.serve("server_fateflow", "server_fateflow")

    async def run():
        info = await adetect_dialect(_config(replay))
        client = await build_async_client(_config(replay))
        await client.aclose()
        return info, client

    info, client = asyncio.run(run())
    assert info.dialect == "v2" and info.version == "2.2.0" and isinstance(client, AsyncFateFlowV2Client)


def test_hook_builds_the_v2_client_and_its_groups(replay: Replay, monkeypatch, shared_dir: Path):
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    monkeypatch.setenv("AIRFLOW_CONN_FATE2", json.dumps({
        "conn_type": "fateflow", "host": "127.0.0.1", "port": replay.port,
        "extra": {"api_version": "auto", "retry_limit": 1}}))
    hook = FateFlowHook("fate2")
    replay.serve("server_fateflow", "job_query_toy", "output_metric_key_query")
    assert hook.dialect == "v2" and isinstance(hook.client, FateFlowV2Client)
    assert hook.job.query(load("job_submit_toy")["response"]["job_id"])
    assert hook.output.query_metric_key("j", "guest", 9999, "evaluation_0")[0]["name"] == "evaluation"
    assert hook.client.log is not None and hook.site is hook.client.site
    monkeypatch.setenv("AIRFLOW_CONN_FATE1", json.dumps({"conn_type": "fateflow", "host": "127.0.0.1",
                                                         "port": replay.port}))
    v1 = FateFlowHook("fate1")
    assert v1.dialect == "v1"
    with pytest.raises(AttributeError, match="FATE Flow 2.x only"):
        v1.output  # noqa: B018
