"""Bad local input: a FateFlowInputError naming the problem, and nothing sent to the server."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _integration_helpers import (
    EXAMPLES,
    GUEST,
    MODEL_ID,
    RequestCounter,
    Server,
    count_requests,
    example,
    upload_conf,
)

from airflow_provider_fateflow.client import FateFlowInputError
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.testing import FateFlowSandbox


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """Input is checked before signing: one sandbox (authentication off) is enough here."""
    with FateFlowSandbox(pace=0.0) as sb:
        yield Server(sb, None)


@pytest.fixture
def wire(hook: FateFlowHook, monkeypatch: pytest.MonkeyPatch) -> RequestCounter:
    return count_requests(monkeypatch, hook)


@pytest.fixture
def refused(hook: FateFlowHook, server: Server, wire: RequestCounter) -> Iterator[Callable[..., FateFlowInputError]]:
    """``refused(call, *args, match=...)``: the call raises FateFlowInputError and sends nothing."""
    before = server.sandbox.jobs_count()

    def check(call: Callable[..., Any], *args: Any, match: str, **kwargs: Any) -> FateFlowInputError:
        with pytest.raises(FateFlowInputError) as err:
            call(*args, **kwargs)
        assert match in str(err.value), str(err.value)
        assert len(wire) == 0, wire.calls
        return err.value

    yield check
    assert server.sandbox.jobs_count() == before


def toy_conf(**over: Any) -> dict[str, Any]:
    return {**example("toy_example_conf.json"), **over}


def test_conf_file_missing(hook, refused, tmp_path: Path):
    missing = tmp_path / "no_such_conf.json"
    err = refused(hook.job.submit, missing, EXAMPLES / "toy_example_dsl.json", match="job conf: file not found")
    assert str(missing) in str(err)


def test_conf_file_not_json(hook, refused, tmp_path: Path):
    bad = tmp_path / "conf.json"
    bad.write_text('{\n  "dsl_version": 2,\n  "initiator": {"role": "guest", "party_id": 9999,}\n}\n')
    err = refused(hook.job.submit, bad, EXAMPLES / "toy_example_dsl.json", match="invalid JSON at line 3")
    assert f"job conf file {str(bad)!r}" in str(err)


def test_dsl_file_not_a_json_object(hook, refused, tmp_path: Path):
    bad = tmp_path / "dsl.json"
    bad.write_text('["reader_0"]')
    refused(hook.job.submit, toy_conf(), bad, match="expected a JSON object, got list")


def test_conf_without_initiator(hook, refused):
    conf = toy_conf()
    del conf["initiator"]
    refused(hook.job.submit, conf, example("toy_example_dsl.json"), match="conf.initiator: missing")


def test_conf_initiator_not_in_its_role(hook, refused):
    conf = toy_conf(initiator={"role": "guest", "party_id": 1234})
    refused(hook.job.submit, conf, example("toy_example_dsl.json"), match="the initiator party 1234 is not listed")


def test_conf_dsl_version_1(hook, refused):
    refused(hook.job.submit, toy_conf(dsl_version=1), example("toy_example_dsl.json"),
            match="conf.dsl_version: must be 2")


def test_dsl_without_components(hook, refused):
    refused(hook.job.submit, toy_conf(), {"components": {}}, match="dsl.components: missing or empty")
    refused(hook.job.submit, toy_conf(), {"component": {"x": {"module": "Reader"}}},
            match="dsl.components: missing or empty")


def test_training_job_without_dsl(hook, refused):
    refused(hook.job.submit, toy_conf(), match="a DSL is required for non-predict jobs")


@pytest.mark.parametrize("where", ["initiator", "role list", "query", "component", "import conf"])
def test_party_id_abc(hook, refused, where: str, tmp_path: Path):
    if where == "initiator":
        refused(hook.job.submit, toy_conf(initiator={"role": "guest", "party_id": "abc"}),
                example("toy_example_dsl.json"), match="conf.initiator.party_id: 'abc' is not an integer party id")
    elif where == "role list":
        refused(hook.job.submit, toy_conf(role={"guest": [GUEST], "host": ["abc"]}), example("toy_example_dsl.json"),
                match="conf.role.host[0]: 'abc' is not an integer party id")
    elif where == "query":
        refused(hook.job.query, job_id="1", role="guest", party_id="abc", match="'abc' is not an integer party id")
    elif where == "component":
        refused(hook.component.metric_all, "1", "guest", "abc", "evaluation_0",
                match="party_id: 'abc' is not an integer party id")
    else:
        zipped = tmp_path / "model.zip"
        zipped.write_bytes(b"PK\x05\x06" + b"\0" * 18)
        refused(hook.model.imp, {"role": "guest", "party_id": "abc", "model_id": MODEL_ID, "model_version": "1"},
                zipped, match="import conf.party_id: 'abc' is not an integer party id")


def test_upload_local_file_missing(hook, refused, tmp_path: Path):
    conf = dict(upload_conf("x"), file=str(tmp_path / "missing.csv"))
    refused(hook.data.upload, conf, match="upload conf.file: file not found")


def test_upload_conf_without_table_name(hook, refused):
    conf = upload_conf("x")
    del conf["table_name"]
    refused(hook.data.upload, conf, match="upload conf.table_name: missing")


def test_load_conf_without_model_version(hook, refused):
    conf = example("publish_load_conf.json")
    del conf["job_parameters"]["model_version"]
    refused(hook.model.load, conf, match="model_id and model_version are required")
    refused(hook.model.load, match="give exactly one of conf or job_id")


def test_model_import_zip_missing(hook, refused, tmp_path: Path):
    refused(hook.model.imp, {"role": "guest", "party_id": GUEST, "model_id": MODEL_ID, "model_version": "1"},
            tmp_path / "missing.zip", match="model import file: file not found")


def test_download_into_a_non_empty_directory(hook, refused, tmp_path: Path):
    target = tmp_path / "job_1_log"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    refused(hook.job.log, "1", tmp_path, match="exists and is not empty")
    assert (target / "keep.txt").read_text() == "mine"


def test_component_call_without_role_anywhere(make_hook, server: Server, monkeypatch: pytest.MonkeyPatch):
    hook = make_hook(initiator_role="", initiator_party_id="")
    wire = count_requests(monkeypatch, hook)
    with pytest.raises(FateFlowInputError, match="role and party_id are required"):
        hook.component.parameters("1", component_name="hetero_lr_0")
    assert len(wire) == 0


def test_json_conf_text_is_accepted(hook, server: Server, wire: RequestCounter):
    """The one input that looks like a path but is not: inline JSON text is parsed, then sent."""
    result = hook.job.submit(json.dumps(toy_conf()), json.dumps(example("toy_example_dsl.json")))
    assert result.job_id and wire.paths() == ["job/submit"]
