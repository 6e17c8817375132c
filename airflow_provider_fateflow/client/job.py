"""``client.job``: submit, stop, query, list, logs and friends (API.md §4)."""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from airflow_provider_fateflow.client._base import (
    Group,
    recover,
    body,
    download_and_extract,
    data_dict,
    given_once,
    data_list,
    is_ambiguous,
    require,
    retmsg,
)
from airflow_provider_fateflow.client.calls import ApiCall, nf
from airflow_provider_fateflow.client.config import ClientConfig
from airflow_provider_fateflow.client.errors import (
    FateFlowAmbiguousSubmitError,
    FateFlowError,
    FateFlowInputError,
)
from airflow_provider_fateflow.client.inputs import load_json_arg, party_id_int, validate_dsl, validate_job_conf
from airflow_provider_fateflow.client.board import board_url
from airflow_provider_fateflow.client.results import JobConfigFiles, JobList, JobRecord, SubmitResult

__all__ = ["JobGroup", "query_call", "stop_call", "with_marker", "MARKER_KEY"]

log = logging.getLogger("airflow_provider_fateflow.client")

#: Top-level runtime-conf key holding the provider's submit marker: ``{"airflow": {"marker": ...}}``.
MARKER_KEY = "airflow"

_JOB_NOT_FOUND = nf(101, 102, 103, fragments=("can not found job", "no found job", "find job failed"))


def _job_records(envelope: Mapping[str, Any]) -> list[JobRecord]:
    return [JobRecord.from_dict(r) for r in data_list(envelope)]


def with_marker(conf: Mapping[str, Any], marker: str) -> dict[str, Any]:
    """The conf as ``job.submit`` sends it: ``{"airflow": {..., "marker": marker}}`` added (other keys kept)."""
    extra = conf.get(MARKER_KEY)
    return {**conf, MARKER_KEY: {**(extra if isinstance(extra, Mapping) else {}), "marker": marker}}


def query_call(
    job_id: str | None = None,
    role: str | None = None,
    party_id: int | str | None = None,
    status: str | None = None,
    component_name: str | None = None,
) -> ApiCall:
    """``POST job/query`` (idempotent). An unknown job is ``retcode 0`` with ``data: []`` -> ``[]``."""
    return ApiCall(
        "job.query",
        "job/query",
        json=body(job_id=job_id, role=role, party_id=party_id, status=getattr(status, "value", status),
                  component_name=component_name),
        idempotent=True,
        parse=_job_records,
    )


def stop_call(job_id: str, stop_status: str | None = None) -> ApiCall:
    """``POST job/stop``: ``stop_status`` ``"canceled"`` (server default) or ``"failed"``. Not retried."""
    return ApiCall(
        "job.stop",
        "job/stop",
        json=body(job_id=require(job_id, "job_id", "job.stop"), stop_status=getattr(stop_status, "value", stop_status)),
        not_found=_JOB_NOT_FOUND,
        parse=retmsg,
    )


def _submit_parser(config: ClientConfig, conf: Mapping[str, Any], marker: str) -> Callable[[Any], SubmitResult]:
    initiator = conf.get("initiator") or {}

    def parse(envelope: Mapping[str, Any]) -> SubmitResult:
        data = data_dict(envelope)
        job_id = str(data.get("job_id") or envelope["jobId"])
        model_info = data.get("model_info") or {}
        url = board_url(config.board_url, job_id=job_id, role=initiator.get("role"),
                        party_id=initiator.get("party_id"), server_url=data.get("board_url"))
        return SubmitResult(
            job_id=job_id,
            model_id=model_info.get("model_id"),
            model_version=None if model_info.get("model_version") is None else str(model_info["model_version"]),
            board_url=url,
            raw=data,
            marker=marker,
        )

    return parse


class JobGroup(Group):
    """Job operations, with the FATE Flow SDK's names and arguments.

    ``recovery_delays``/``recovery_pages``/``recovery_page_size`` may be set per instance.
    """

    #: Delays (s) between lookups of a job whose submit answer was lost.
    recovery_delays: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    #: Pages of ``job/list/job`` scanned per lookup, and their size.
    recovery_pages: int = 4
    recovery_page_size: int = 50

    # -- submit ------------------------------------------------------------------------------------

    def submit(
        self,
        conf: Mapping[str, Any] | str | os.PathLike[str],
        dsl: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        marker: str | None = None,
    ) -> SubmitResult:
        """Submit a job (``POST job/submit``). Never resent blindly.

        The conf gets ``{"airflow": {"marker": <marker>}}`` (a fresh uuid4 when not given). If the
        answer is lost (connection dropped after sending, read timeout, 5xx), the job is looked up
        by that marker instead of resubmitting.

        :param conf: runtime conf (DSL v2) as a dict or a JSON file path (relative to the CWD).
        :param dsl: job DSL as a dict or JSON file path; may be omitted for predict jobs (sent as ``null``,
            as the recorded SDK does; the server then uses the deployed model's inference DSL).
        :param marker: idempotency marker stored in the conf.
        :raises FateFlowInputError: bad conf/DSL (before sending).
        :raises FateFlowAmbiguousSubmitError: the answer was lost and no job carries the marker.
        """
        conf = load_json_arg(conf, "job conf")
        validate_job_conf(conf)
        job_type = ((conf.get("job_parameters") or {}).get("common") or {}).get("job_type")
        if dsl is not None:
            dsl = load_json_arg(dsl, "job dsl")
            validate_dsl(dsl)
        elif job_type != "predict":
            raise FateFlowInputError("a DSL is required for non-predict jobs", operation="job.submit")
        marker = marker or uuid.uuid4().hex
        conf = with_marker(conf, marker)
        initiator = conf["initiator"]
        role, party = str(initiator["role"]), party_id_int(initiator["party_id"], "conf.initiator.party_id")
        call = ApiCall(
            "job.submit",
            "job/submit",
            json={"job_runtime_conf": conf, "job_dsl": dsl},  # null for predict jobs, as recorded
            parse=_submit_parser(self._config, conf, marker),
        )
        since_ms = int(time.time() * 1000)
        try:
            return self._run(call)
        except FateFlowError as exc:
            if not is_ambiguous(exc):
                raise
            log.warning("job.submit: answer lost (%s); looking for the job with marker %s", exc, marker)
            record, searched = self._recover(
                lambda: self.find_by_marker(marker, role=role, party_id=party, since_ms=since_ms)
            )
            if record is None:
                raise FateFlowAmbiguousSubmitError(
                    f"the submit answer was lost ({exc}) and no job with marker {marker} was found: "
                    "the job may or may not exist",
                    operation="job.submit", marker=marker, cause=exc, searched=searched,
                ) from exc
            log.warning("job.submit: found job %s by its marker", record.job_id)
            return self._recovered_result(record, marker)

    def _recover(self, lookup: Callable[[], Any]) -> tuple[Any, bool]:
        """``(found, searched)``: :func:`~airflow_provider_fateflow.client._base.recover` with this group's
        ``recovery_delays``."""
        return recover(lookup, self.recovery_delays, self._sleep)

    def _recovered_result(self, record: JobRecord, marker: str) -> SubmitResult:
        return SubmitResult(
            job_id=record.job_id,
            model_id=record.model_id,
            model_version=record.model_version,
            board_url=record.board_url(self._config.board_url),
            raw=record.raw,
            marker=marker,
            recovered=True,
        )

    def iter_recent(self, *, role: str, party_id: int, since_ms: int) -> Any:
        """Yield job rows of ``role``/``party_id`` newest first, down to ``since_ms - 60 s``."""
        floor = since_ms - 60_000
        for page in range(1, self.recovery_pages + 1):
            listing = self.list(
                limit=self.recovery_page_size, page=page, order_by="create_time", order="desc",
                role=role, party_id=party_id,
            )
            if not listing.jobs:
                return
            for job in listing.jobs:
                if job.create_time is not None and job.create_time < floor:
                    return
                yield job
            if len(listing.jobs) < self.recovery_page_size:
                return

    def find_by_marker(self, marker: str, *, role: str, party_id: int | str, since_ms: int) -> JobRecord | None:
        """The job whose runtime conf carries ``{"airflow": {"marker": marker}}``, created after ``since_ms``.

        :param marker: the submit marker.
        :param role: initiator role of the job.
        :param party_id: initiator party id.
        :param since_ms: time (ms since the epoch) before the submit was sent; rows created more than
            60 s earlier stop the scan.
        """
        for job in self.iter_recent(role=role, party_id=party_id_int(party_id, "party_id"), since_ms=since_ms):
            conf = job.runtime_conf
            if isinstance(conf, Mapping):
                tag = conf.get(MARKER_KEY)
                if isinstance(tag, Mapping) and tag.get("marker") == marker:
                    return job
        return None

    # -- queries and actions -----------------------------------------------------------------------

    def stop(self, job_id: str, stop_status: str | None = None) -> str:
        """Stop a job (``POST job/stop``); returns the server's message. Stopping a finished job is a no-op.

        :param stop_status: ``"canceled"`` (server default) or ``"failed"``.
        """
        return self._run(stop_call(job_id, stop_status))

    def query(
        self,
        job_id: str | None = None,
        role: str | None = None,
        party_id: int | str | None = None,
        status: str | None = None,
        component_name: str | None = None,
    ) -> list[JobRecord]:
        """Job rows (one per role and party hosted by this Flow); ``[]`` for an unknown job."""
        return self._runner.run(query_call(job_id, role, party_id, status, component_name))

    def clean(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
              component_name: str | None = None) -> str:
        """Clean a job's sessions, output tables and metrics (``POST job/clean``; not in the SDK)."""
        return self._run(ApiCall(
            "job.clean", "job/clean",
            json=body(job_id=require(job_id, "job_id", "job.clean"), role=role, party_id=party_id,
                      component_name=component_name),
            not_found=nf(100, fragments="no found task"), parse=retmsg,
        ))

    def config(self, job_id: str, role: str | None, party_id: int | str | None,
               output_path: str | os.PathLike[str]) -> JobConfigFiles:
        """Write the job's dsl/runtime_conf/train_runtime_conf/model_info as the SDK does.

        Files go to ``<output_path>/job_<job_id>_config/<key>.json``.
        """
        role, party = self._role_party(role, party_id, "job.config")
        data = self._run(ApiCall(
            "job.config", "job/config", json=body(job_id=require(job_id, "job_id", "job.config"), role=role, party_id=party),
            idempotent=True, not_found=nf(101, fragments="find job failed"), parse=data_dict,
        ))
        directory = Path(output_path) / f"job_{job_id}_config"
        directory.mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        for key, value in data.items():
            if key == "job_id":
                continue
            path = directory / f"{key}.json"
            path.write_text(json.dumps(value, indent=4), encoding="utf-8")
            files[key] = path
        return JobConfigFiles(directory=directory, files=files, model_info=data.get("model_info"), raw=data)

    def log(self, job_id: str, output_path: str | os.PathLike[str]) -> Path:
        """Download the job's logs and extract them safely into ``<output_path>/job_<job_id>_log/``.

        :returns: the (fresh) directory.
        :raises FateFlowNotFoundError: no log directory for that job (HTTP 404).
        """
        require(job_id, "job_id", "job.log")
        target = Path(output_path) / f"job_{job_id}_log"
        return download_and_extract(
            self, "job.log", "job/log/download", "POST", {"job_id": str(job_id)},
            target, f"job_{job_id}_log.tar.gz", "tar.gz",
        )

    def list(
        self,
        limit: int = 10,
        *,
        page: int | None = None,
        order_by: str | None = None,
        order: str | None = None,
        job_id: str | None = None,
        description: str | None = None,
        role: str | list[str] | None = None,
        party_id: int | str | None = None,
        status: str | list[str] | None = None,
    ) -> JobList:
        """``POST job/list/job``: newest first by default; ``count`` counts (job, role, party) rows.

        :param limit: page size (0 = unlimited; default 10).
        :param page: 1-based page number.
        :param order_by: job_id, task_version, create_time, start_time, end_time or elapsed.
        :param order: ``"asc"`` or ``"desc"``.
        :param status: success, running, waiting, failed or canceled (``timeout`` is refused by the server).
        """
        def parse(envelope: Mapping[str, Any]) -> JobList:
            data = data_dict(envelope)
            return JobList([JobRecord.from_dict(j) for j in data.get("jobs") or []], int(data.get("count") or 0), data)

        return self._run(ApiCall(
            "job.list", "job/list/job",
            json=body(limit=limit, page=page, order_by=order_by, order=order, job_id=job_id,
                      description=description, role=role, party_id=party_id, status=status),
            idempotent=True, parse=parse,
        ))

    def view(self, job_id: str, role: str | None = None, party_id: int | str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
        """Output-data records of a job (``POST job/data/view/query``); ``[]`` when none."""
        return self._run(ApiCall(
            "job.view", "job/data/view/query",
            json=body(job_id=require(job_id, "job_id", "job.view"), role=role, party_id=party_id, status=status),
            idempotent=True, empty_on=nf(101, fragments="find data view failed"), parse=data_list,
        ))

    def generate_dsl(
        self,
        train_dsl: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        cpn: list[str] | str | None = None,
        cpn_file_path: str | os.PathLike[str] | None = None,
        cpn_list: list[str] | str | None = None,
        *,
        version: str | None = None,
        train_dsl_path: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    ) -> dict[str, Any]:
        """Predict DSL from a training DSL (``POST job/dsl/generate``).

        Takes the 1.7+ SDK's call ``generate_dsl(train_dsl, cpn)`` and the older SDK's
        ``generate_dsl(train_dsl_path, version="1", cpn_file_path=None, cpn_list=None)``: a second positional
        argument that is a DSL version word (``"1"``/``"2"``) is the version, as the older SDK places it.

        :param train_dsl: training DSL (dict or JSON file path); sent as a JSON string. ``train_dsl_path`` is
            the older SDK's name for it.
        :param cpn: component names, as a list or a comma-separated string (or the version, see above).
        :param cpn_file_path: a file listing the component names (comma- or line-separated).
        :param cpn_list: component names, as a list or a comma-separated string (the older SDK's name).
        :param version: DSL version of the training DSL, default ``"2"`` (FATE 1.7+ refuses v1 training DSLs).
        :raises FateFlowInputError: no DSL, no or several sources of component names, an unreadable file.
        """
        dsl = load_json_arg(given_once("job.generate_dsl", train_dsl=train_dsl, train_dsl_path=train_dsl_path),
                            "train dsl")
        if isinstance(cpn, str) and cpn.strip() in ("1", "2"):  # the older SDK's positional version
            if version is not None:
                raise FateFlowInputError(f"version given twice ({cpn!r} and {version!r})", operation="job.generate_dsl")
            cpn, version = None, cpn.strip()
        sources = [c for c in (cpn, cpn_list) if c not in (None, "", [])]
        if cpn_file_path is not None:
            path = Path(os.fspath(cpn_file_path)).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as err:
                raise FateFlowInputError(f"cpn_file_path {str(path)!r}: {err.strerror or err}",
                                         operation="job.generate_dsl") from None
            sources.append([name.strip() for name in text.replace("\n", ",").split(",") if name.strip()])
        if len(sources) != 1:
            raise FateFlowInputError("give the components once: cpn, cpn_list or cpn_file_path",
                                     operation="job.generate_dsl")
        return self._run(ApiCall(
            "job.generate_dsl", "job/dsl/generate",
            json={"cpn_str": sources[0], "train_dsl": json.dumps(dsl), "version": str(version or "2")},
            idempotent=True, parse=data_dict,
        ))

    def rerun(self, job_id: str, component_name: str | None = None, force: bool = False) -> str:
        """Rerun a job, or from one component (``POST job/rerun``)."""
        return self._run(ApiCall(
            "job.rerun", "job/rerun",
            json=body(job_id=require(job_id, "job_id", "job.rerun"), component_name=component_name,
                      force=True if force else None),
            not_found=_JOB_NOT_FOUND, parse=retmsg,
        ))

    def url(self, job_id: str, role: str | None = None, party_id: int | str | None = None) -> list[str]:
        """FATE-Board links (``POST job/url/get``), rebased on ``config.board_url`` when set."""
        role, party = self._role_party(role, party_id, "job.url")
        base = self._config.board_url

        def parse(envelope: Mapping[str, Any]) -> list[str]:
            urls = data_dict(envelope).get("board_url") or []
            urls = [urls] if isinstance(urls, str) else list(urls)
            return [board_url(base, job_id=str(job_id), server_url=u) or u for u in urls]

        return self._run(ApiCall(
            "job.url", "job/url/get", json=body(job_id=require(job_id, "job_id", "job.url"), role=role, party_id=party),
            idempotent=True, not_found=nf(101, fragments="no found job"), parse=parse,
        ))

