"""Unit tests: archive safety, inputs, status enums, signature vectors, config/secret hygiene."""
from __future__ import annotations

import gzip
import io
import json
import logging
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from airflow_provider_fateflow.client import (
    ClientConfig,
    FateFlowArchiveError,
    FateFlowAuthError,
    FateFlowInputError,
    JobStatus,
    TaskStatus,
)
from airflow_provider_fateflow.client.archive import content_disposition_filename, safe_extract, safe_filename
from airflow_provider_fateflow.client.auth import sign
from airflow_provider_fateflow.client.calls import ApiCall, json_query, prepare
from airflow_provider_fateflow.client.multipart import FilePart, MultipartStream
from airflow_provider_fateflow.client.inputs import load_json_arg, validate_dsl, validate_job_conf
from airflow_provider_fateflow.client.board import board_url
from airflow_provider_fateflow.client.results import JobRecord

RECORDINGS = Path(os.environ.get("FATEFLOW_SHARED_DIR") or Path(__file__).resolve().parents[2].parent / "shared") / "fateflow-v1" / "recordings"


# -- archives ---------------------------------------------------------------------------------------

def _tar(tmp: Path, *members: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            tar.addfile(m, io.BytesIO(data) if m.isfile() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size if kind == tarfile.REGTYPE else 0, link
    return info


@pytest.mark.parametrize("bad", [
    _member("../evil.txt"), _member("/etc/evil.txt"), _member("a/../../evil.txt"),
    _member("link", tarfile.SYMTYPE, link="/etc/passwd"), _member("hard", tarfile.LNKTYPE, link="ok.txt"),
    _member("dev", tarfile.CHRTYPE), _member("fifo", tarfile.FIFOTYPE),
])
def test_tar_refuses_unsafe_members(tmp_path, bad):
    archive = _tar(tmp_path, _member("ok.txt"), bad)
    out = tmp_path / "out"
    with pytest.raises(FateFlowArchiveError):
        safe_extract(archive, out)
    assert not out.exists(), "partial output removed"
    assert not (tmp_path / "evil.txt").exists()


def test_tar_extracts_into_fresh_dir(tmp_path):
    archive = _tar(tmp_path, _member("guest/9999", tarfile.DIRTYPE), _member("guest/9999/INFO.log"))
    written = safe_extract(archive, tmp_path / "out")
    assert written == [tmp_path.resolve() / "out" / "guest" / "9999" / "INFO.log"]
    with pytest.raises(FateFlowArchiveError, match="not empty"):
        safe_extract(archive, tmp_path / "out")


def test_gzip_bomb_refused(tmp_path):
    archive = tmp_path / "bomb.tar.gz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(b"\0" * info.size))
    archive.write_bytes(gzip.compress(raw.getvalue(), 9))
    assert archive.stat().st_size < 200_000
    with pytest.raises(FateFlowArchiveError, match="bomb"):
        safe_extract(archive, tmp_path / "out")
    with pytest.raises(FateFlowArchiveError):
        safe_extract(archive, tmp_path / "out2", max_total_bytes=1024)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


def test_zip_slip_and_symlink_refused(tmp_path):
    for name, attr in (("../../slip.txt", 0), ("link", 0o120777 << 16)):
        path = tmp_path / "m.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("ok.txt", "ok")
            info = zipfile.ZipInfo(name)
            info.external_attr = attr
            zf.writestr(info, "/etc/passwd")
        with pytest.raises(FateFlowArchiveError):
            safe_extract(path, tmp_path / "out", fmt="zip")
        assert not (tmp_path / "out").exists() and not (tmp_path.parent / "slip.txt").exists()


def test_corrupt_archive(tmp_path):
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(FateFlowArchiveError, match="corrupt"):
        safe_extract(bad, tmp_path / "out")


@pytest.mark.parametrize("header, name", [
    ("attachment; filename=guest#9999#arbiter-10000#model_1.zip", "guest#9999#arbiter-10000#model_1.zip"),
    ('attachment; filename="a b#c.zip"', "a b#c.zip"),
    ("attachment; filename*=UTF-8''guest%239999%23m.zip", "guest#9999#m.zip"),
    ('attachment; filename="fallback.zip"; filename*=UTF-8\'\'r%C3%A9el.zip', "réel.zip"),
    ("attachment", None),
])
def test_content_disposition(header, name):
    assert content_disposition_filename(header) == name


def test_safe_filename():
    assert safe_filename("../../etc/passwd", "f") == "passwd"
    assert safe_filename("..", "f") == "f" and safe_filename(None, "f") == "f"


# -- inputs -----------------------------------------------------------------------------------------

GOOD = {"dsl_version": 2, "initiator": {"role": "guest", "party_id": 9999},
        "role": {"guest": ["9999"], "host": [10000]}, "job_parameters": {}}


def test_load_json_arg_file_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf.json").write_text('{"a": 1}')
    assert load_json_arg("conf.json", "job conf") == {"a": 1}
    (tmp_path / "bad.json").write_text('{\n  "a": 1,\n  oops\n}')
    with pytest.raises(FateFlowInputError, match=r"bad\.json.*line 3, column 3"):
        load_json_arg("bad.json", "job conf")
    with pytest.raises(FateFlowInputError, match="file not found.*missing.json"):
        load_json_arg("missing.json", "job conf")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(FateFlowInputError, match="expected a JSON object"):
        load_json_arg("list.json", "job conf")


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.pop("initiator"), "conf.initiator: missing"),
    (lambda c: c["initiator"].pop("role"), "conf.initiator.role"),
    (lambda c: c["initiator"].update(party_id="x"), "conf.initiator.party_id: 'x' is not an integer party id"),
    (lambda c: c["role"].update(host=["abc"]), "conf.role.host[0]: 'abc' is not an integer party id"),
    (lambda c: c["role"].update(guest=[1]), "conf.role.guest: the initiator party 9999 is not listed"),
    (lambda c: c.update(dsl_version=1), "conf.dsl_version: must be 2"),
    (lambda c: c.pop("role"), "conf.role: missing"),
])
def test_validate_job_conf(mutate, message):
    conf = json.loads(json.dumps(GOOD))
    mutate(conf)
    with pytest.raises(FateFlowInputError) as info:
        validate_job_conf(conf)
    assert message in str(info.value)


def test_validate_job_conf_ok_and_predict():
    validate_job_conf(GOOD)
    predict = dict(GOOD, job_parameters={"common": {"job_type": "predict"}})
    predict.pop("dsl_version")
    validate_job_conf(predict)


def test_validate_dsl():
    validate_dsl({"components": {"r": {"module": "Reader"}}})
    for bad in ({}, {"components": {}}, {"components": {"r": {}}}):
        with pytest.raises(FateFlowInputError, match="dsl.components"):
            validate_dsl(bad)


def test_submit_and_upload_refuse_before_sending(tmp_path):
    from airflow_provider_fateflow.client import FateFlowClient

    client = FateFlowClient(ClientConfig("127.0.0.1", 1))  # nothing listens: any request would fail differently
    with pytest.raises(FateFlowInputError):
        client.job.submit({"role": {}}, {"components": {"a": {"module": "M"}}})
    with pytest.raises(FateFlowInputError, match="DSL is required"):
        client.job.submit(GOOD)
    with pytest.raises(FateFlowInputError, match="file not found"):
        client.data.upload({"namespace": "n", "table_name": "t", "file": str(tmp_path / "nope.csv")})
    with pytest.raises(FateFlowInputError, match="exactly one"):
        client.model.load()
    with pytest.raises(FateFlowInputError, match="role and party_id"):
        client.component.metrics("1", component_name="c")


# -- status -----------------------------------------------------------------------------------------

def test_status_sets():
    assert JobStatus.terminal == {JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.TIMEOUT}
    assert JobStatus.ongoing == {JobStatus.READY, JobStatus.WAITING, JobStatus.RUNNING}
    assert JobStatus.SUCCESS.is_success and JobStatus.TIMEOUT.is_failure and not JobStatus.READY.is_terminal
    assert TaskStatus.PASS.is_terminal and TaskStatus.PASS.is_success
    assert JobStatus("running") == "running" and str(JobStatus.RUNNING) == "running"


def test_unknown_status_is_safe():
    assert JobStatus.parse("rerunning") is JobStatus.UNKNOWN and not JobStatus.UNKNOWN.is_terminal
    assert JobStatus.parse("SUCCESS") is JobStatus.SUCCESS and JobStatus.parse(None) is JobStatus.UNKNOWN
    rec = JobRecord.from_dict({"f_job_id": "1", "f_status": "paused"})
    assert rec.status is JobStatus.UNKNOWN and rec.status_raw == "paused" and rec.status.is_ongoing


def test_job_record_from_both_shapes():
    a = JobRecord.from_dict({"f_job_id": "1", "f_party_id": "9999", "f_status": "success", "f_elapsed": 5})
    b = JobRecord.from_dict({"job_id": "1", "party_id": 9999, "status": "success", "elapsed": 5})
    assert (a.job_id, a.party_id, a.status, a.elapsed) == (b.job_id, b.party_id, b.status, b.elapsed)
    assert board_url("http://b:8080/", job_id="1", role="guest", party_id=9999) == "http://b:8080/index.html#/dashboard?job_id=1&role=guest&party_id=9999"
    assert board_url(None, job_id="1", server_url="http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"
    assert board_url("http://b:8080", job_id="1", server_url="http://127.0.0.1:8080/index.html#/dashboard?job_id=1&role=local&party_id=0") == "http://b:8080/index.html#/dashboard?job_id=1&role=local&party_id=0"


# -- signature vectors --------------------------------------------------------------------------------

def _signed_recordings():
    out = []
    for path in sorted(RECORDINGS.glob("*.json")):
        rec = json.loads(path.read_text())
        if "SIGNATURE" in (rec["request"].get("headers") or {}):
            out.append(pytest.param(rec, id=path.stem))
    return out


@pytest.mark.parametrize("rec", _signed_recordings())
def test_signature_vectors(rec):
    req = rec["request"]
    h = req["headers"]
    path_url = req["path"] + (f"?{req['query']}" if req.get("query") else "")
    body = req["raw_body"].encode() if req["body_kind"] == "json" and req.get("raw_body") else None
    form = req.get("form") if req["body_kind"] in ("multipart", "form") else None
    ours = sign(h["APP_KEY"], "s3cr3t-for-tests", path_url, body, form, timestamp_ms=h["TIMESTAMP"] if h["TIMESTAMP"].isdigit() else None, nonce=h["NONCE"])
    if not h["TIMESTAMP"].isdigit():  # "yesterday": sign the literal value
        import base64, hashlib, hmac
        msg = b"\n".join([h["TIMESTAMP"].encode(), h["NONCE"].encode(), h["APP_KEY"].encode(), path_url.encode(), body or b"", b""])
        ours = {"SIGNATURE": base64.b64encode(hmac.new(b"s3cr3t-for-tests", msg, hashlib.sha1).digest()).decode()}
    assert (ours["SIGNATURE"] == h["SIGNATURE"]) is req["signature_valid_with_test_secret"]


def test_prepare_signs_exact_bytes_sent():
    config = ClientConfig("flow", app_key="ak", secret_key="sk")
    wire = prepare(ApiCall("job.query", "job/query", json={"job_id": "1"}), config)
    expected = sign("ak", "sk", "/v1/job/query", wire.body, None, timestamp_ms=int(wire.headers["TIMESTAMP"]),
                    nonce=wire.headers["NONCE"])
    assert wire.headers["SIGNATURE"] == expected["SIGNATURE"] and wire.url == "http://flow:9380/v1/job/query"


def test_json_query_matches_sdk():
    rec = json.loads((RECORDINGS / "data.upload__client_file_multipart.json").read_text())
    assert json_query(rec["request"]["query_json"]) == rec["request"]["query"]
    assert "&" not in json_query({"file": "a&b=c+d#e"})


def test_multipart_stream_is_lazy_and_exact(tmp_path):
    f = tmp_path / "big.csv"
    f.write_bytes(b"y" * 3_000_000)
    stream = MultipartStream({"role": "guest"}, FilePart("file", str(f)), boundary="B")
    chunks = []
    while chunk := stream.read(65536):
        assert len(chunk) <= 65536
        chunks.append(chunk)
    body = b"".join(chunks)
    assert len(body) == len(stream) and body.startswith(b'--B\r\nContent-Disposition: form-data; name="role"')
    assert b'filename="big.csv"' in body and body.endswith(b"\r\n--B--\r\n")


# -- config and secrets -------------------------------------------------------------------------------

def test_config_lenient_host_and_base_url():
    assert ClientConfig("https://flow.example:9443").base_url == "https://flow.example:9443/v1/"
    assert ClientConfig("flow:9999").base_url == "http://flow:9999/v1/"
    assert ClientConfig("flow").base_url == "http://flow:9380/v1/"
    with pytest.raises(ValueError):
        ClientConfig("flow", scheme="ftp")
    with pytest.raises(ValueError):
        ClientConfig("flow", initiator_party_id="abc")


def test_secret_never_shown(responder, make_client, caplog):
    responder.json({"retcode": 109, "retmsg": "signature authentication failed"})
    client = make_client(app_key="ak", secret_key="SUPER-SECRET-123")
    assert "SUPER-SECRET-123" not in repr(client.config) and "SUPER-SECRET-123" not in str(client.config)
    assert "SUPER-SECRET-123" not in repr(client)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(FateFlowAuthError) as info:
            client.job.query("1")
    err = info.value
    assert info.value.reason == "bad_signature"
    for text in (str(err), repr(err), caplog.text, str(vars(err))):
        assert "SUPER-SECRET-123" not in text
        assert responder.seen[0]["headers"]["SIGNATURE"] not in text
