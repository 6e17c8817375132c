"""SubmitJobOperator and the job-waiting engine, against the sandbox (execute() called with a context)."""
from __future__ import annotations

import asyncio
import json
import time
from unittest import mock

import pytest

from airflow_provider_fateflow.client.errors import (
    FateFlowInputError,
    FateFlowJobFailedError,
    FateFlowJobTimeoutError,
)
from airflow_provider_fateflow.operators import base as base_mod
from airflow_provider_fateflow.operators.job import (
    CleanJobOperator,
    GeneratePredictDslOperator,
    JobLogOperator,
    QueueCleanOperator,
    RerunJobOperator,
    StopJobOperator,
    SubmitJobOperator,
)
from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger
from operators.helpers import BOARD, EXAMPLES, FakeStateStore, FakeTI, make_context, toy_conf, toy_dsl

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred


def _submit(**kwargs):
    kwargs.setdefault("conf", toy_conf())
    kwargs.setdefault("dsl", toy_dsl())
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("deferrable", False)
    return SubmitJobOperator(task_id=kwargs.pop("task_id", "submit"), **kwargs)


def _query(job_id):
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    return FateFlowHook().job.query(job_id=job_id, role="guest", party_id=9999)[0]


# -- templating and construction ---------------------------------------------------------------------------
def test_template_fields_are_kept_verbatim_and_rendered_nicely():
    op = SubmitJobOperator(task_id="t", conf="{{ var.value.conf_path }}", dsl={"a": "{{ ds }}"})
    assert op.conf == "{{ var.value.conf_path }}" and op.dsl == {"a": "{{ ds }}"}
    assert {"conf", "dsl", "fateflow_conn_id"} <= set(op.template_fields)
    assert op.template_fields_renderers == {"conf": "json", "dsl": "json", "dag_schema": "json", "conf_overrides": "json"}
    assert ".json" not in (op.template_ext or ())


def test_deferrable_defaults_from_config(monkeypatch):
    from airflow.configuration import conf

    assert base_mod.default_deferrable() is conf.getboolean("operators", "default_deferrable", fallback=False)
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert base_mod.default_deferrable() is True


def test_hook_params_are_passed_through(sandbox):
    op = _submit(hook_params={"read_timeout": 7, "retry_limit": 1, "connect_timeout": 3})
    assert op.hook.config.read_timeout == 7 and op.hook.config.connect_timeout == 3
    assert op.hook.config.retry.attempts == 1
    with pytest.raises(FateFlowInputError, match="unknown key"):
        _submit(task_id="bad", hook_params={"timeout": 1}).hook  # noqa: B018


# -- bad input: clear errors before any request ----------------------------------------------------------------
def test_unreadable_conf_file_fails_before_any_request(sb, tmp_path):
    before = sb.jobs_count()
    with pytest.raises(FateFlowInputError, match="file not found"):
        _submit(conf=str(tmp_path / "missing.json")).execute(make_context())
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FateFlowInputError, match="invalid JSON at line 1"):
        _submit(conf=str(bad)).execute(make_context())
    conf = toy_conf()
    del conf["initiator"]
    with pytest.raises(FateFlowInputError, match="initiator"):
        _submit(conf=conf).execute(make_context())
    assert sb.jobs_count() == before


def test_conf_and_dsl_files_are_read_and_rendered(sb, tmp_path):
    conf = toy_conf()
    conf["job_parameters"]["common"]["task_cores"] = "{{ params.cores }}"
    (tmp_path / "conf.json").write_text(json.dumps(conf))
    (tmp_path / "dsl.json").write_text(json.dumps(toy_dsl()))
    op = _submit(conf=str(tmp_path / "conf.json"), dsl=str(tmp_path / "dsl.json"))
    ctx = make_context(params={"cores": "3"})
    job_id = op.execute(ctx)
    assert op._job_conf["job_parameters"]["common"]["task_cores"] == "3"
    assert _query(job_id).status.value == "success"


def test_conf_overrides_reach_fate_typed_and_the_submitted_conf_is_shown(sb, tmp_path, capfd):
    (tmp_path / "conf.json").write_text(json.dumps(toy_conf()))
    op = _submit(conf=str(tmp_path / "conf.json"), conf_overrides={
        "component_parameters.common.secure_add_example_0.data_num": "{{ params.rows }}",  # Airflow renders "1000"
        "job_parameters.common.job_type": "train",
        "airflow.description": '"{{ params.rows }}"',  # a JSON string stays a string
    })
    op.render_template_fields(make_context(params={"rows": 1000}))
    job_id = op.execute(make_context(params={"rows": 1000}))
    conf = _query(job_id).runtime_conf
    assert conf["component_parameters"]["common"]["secure_add_example_0"]["data_num"] == 1000  # a number
    assert conf["airflow"]["description"] == "1000"
    assert isinstance(op.conf, dict) and op.conf["airflow"]["marker"] and op.conf["initiator"]["role"] == "guest"
    assert "Submitting FATE job: initiator guest/9999; parties guest [9999], host [10000]" in "".join(capfd.readouterr())
    with pytest.raises(FateFlowInputError, match="conf_overrides: 'initiator.role.x'"):
        _submit(conf=toy_conf(), conf_overrides={"initiator.role.x": 1}).execute(make_context())


# -- success, XCom, link ----------------------------------------------------------------------------------------
def test_submit_waits_and_pushes_xcom(sb):
    ti = FakeTI()
    job_id = _submit().execute(make_context(ti))
    assert ti.xcoms["job_id"] == job_id
    assert ti.xcoms["model_version"] == job_id and ti.xcoms["model_id"].endswith("#model")
    assert ti.xcoms["board_url"] == (f"{BOARD}/index.html#/dashboard?job_id={job_id}&role=guest&party_id=9999")
    assert _query(job_id).status.value == "success"


def test_no_wait_returns_right_after_submit(sb):
    sb.hold(True)
    job_id = _submit(wait_for_completion=False).execute(make_context())
    assert _query(job_id).status.value == "waiting"


def test_failure_report_is_logged_before_the_task_fails(sb, capfd):
    with pytest.raises(FateFlowJobFailedError, match="secure_add_example_0 failed on .*boom") as err:
        _submit(conf=toy_conf(fail="boom")).execute(make_context())
    text = "".join(capfd.readouterr())
    assert "secure_add_example_0 (SecureAddExample) on guest/9999" in text
    assert "Exception: boom" in text and f"{BOARD}/index.html#/dashboard?job_id={err.value.job_id}" in text


# -- deadline, on_kill --------------------------------------------------------------------------------------------
def test_timeout_stops_the_job_and_fails(sb):
    op = _submit(conf=toy_conf(seconds=30), timeout=1.0)
    ti = FakeTI()
    t0 = time.monotonic()
    with pytest.raises(FateFlowJobTimeoutError, match="did not finish before its deadline"):
        op.execute(make_context(ti))
    assert time.monotonic() - t0 < 10
    assert _query(ti.xcoms["job_id"]).status.value == "canceled"


def test_on_kill_stops_the_job_and_never_raises(sb):
    op = _submit(conf=toy_conf(seconds=30))
    ti = FakeTI()
    with mock.patch.object(base_mod.time, "sleep", side_effect=KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            op.execute(make_context(ti))
    op.on_kill()
    assert _query(ti.xcoms["job_id"]).status.value == "canceled"
    with mock.patch.object(op.hook.job, "stop", side_effect=RuntimeError("down")):
        op.on_kill()  # logged, not raised
    SubmitJobOperator(task_id="never_ran", conf={}).on_kill()  # no job: no-op


# -- deferrable -------------------------------------------------------------------------------------------------
def test_deferrable_checks_once_then_defers_with_a_serializable_trigger(sb):
    op = _submit(conf=toy_conf(seconds=2), deferrable=True, timeout=600, poll_interval=0.2)
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as exc:
        op.execute(make_context(ti))
    deferred = exc.value
    trigger = deferred.trigger
    assert isinstance(trigger, JobStatusTrigger) and deferred.method_name == "execute_complete"
    assert deferred.timeout is None  # the deadline lives in the trigger
    assert trigger.job_id == ti.xcoms["job_id"] and trigger.deadline > time.time() + 500
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    clone = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    assert clone.serialize() == (classpath, kwargs)
    event = asyncio.run(_first_event(clone))
    assert event.payload["outcome"] == "succeeded"
    assert op.execute_complete(make_context(ti), event=event.payload, **deferred.kwargs) == trigger.job_id


def test_already_finished_job_is_not_deferred(sb):
    op = _submit(deferrable=True)
    with mock.patch.object(SubmitJobOperator, "defer") as defer:
        with mock.patch.object(op, "_attach_or_submit", side_effect=lambda ctx: _finished_ref(op, ctx)):
            assert op.execute(make_context())
    defer.assert_not_called()


def _finished_ref(op, ctx):
    ref = base_mod.FateFlowJobOperator._attach_or_submit(op, ctx)
    for _ in range(50):
        if _query(ref.job_id).status.is_terminal:
            break
        time.sleep(0.1)
    return ref


def _deferred(op, context=None):
    """Execute until the task defers; return the trigger and the kwargs it resumes with."""
    with pytest.raises(TaskDeferred) as exc:
        op.execute(context or make_context())
    return exc.value.trigger, exc.value.kwargs


def test_resumed_task_raises_with_fates_message(sb, capfd):
    """The event of a real trigger run reaches execute_complete, which reports FATE's reason."""
    op = _submit(conf=toy_conf(seconds=0.5, fail="ValueError: bad feature"), deferrable=True)
    trigger, kwargs = _deferred(op)
    event = asyncio.run(_first_event(trigger)).payload
    assert event["outcome"] == "failed"
    with pytest.raises(FateFlowJobFailedError, match="secure_add_example_0 failed on guest/9999: .*bad feature"):
        _submit(deferrable=True).execute_complete(make_context(), event=event, **kwargs)
    text = "".join(capfd.readouterr())
    assert "secure_add_example_0 (SecureAddExample) on host/10000" in text and f"{BOARD}/index.html" in text


def test_resumed_task_after_the_deadline_stops_the_job(sb):
    op = _submit(conf=toy_conf(seconds=30), deferrable=True, timeout=0.5)
    trigger, kwargs = _deferred(op)
    event = asyncio.run(_first_event(trigger)).payload
    assert event["outcome"] == "deadline" and event["stopped"] is True
    from airflow_provider_fateflow.client.errors import FateFlowDeadlineError

    with pytest.raises(FateFlowDeadlineError, match="did not finish before its deadline") as err:
        _submit(deferrable=True).execute_complete(make_context(), event=event, **kwargs)
    assert isinstance(err.value, FateFlowJobTimeoutError) and err.value.deadline_reason == "deadline"
    assert _query(kwargs["job"]["job_id"]).status.value == "canceled"


def test_resumed_task_raises_an_error_event_with_its_type(sb, monkeypatch):
    """A non-transient failure in the triggerer (the secret rotated) raises the client's type in the worker."""
    from airflow_provider_fateflow.client.errors import FateFlowAuthError
    from airflow_provider_fateflow.common import AirflowFailException

    op = _submit(conf=toy_conf(seconds=30), deferrable=True)
    trigger, kwargs = _deferred(op)
    sb.configure(auth=("key", "secret"))
    try:
        event = asyncio.run(_first_event(trigger)).payload
    finally:
        sb.configure(auth=None)
    assert event["outcome"] == "error"
    with pytest.raises(FateFlowAuthError, match="the server requires signed requests") as err:
        _submit(deferrable=True).execute_complete(make_context(), event=event, **kwargs)
    assert isinstance(err.value, AirflowFailException)  # a retry with the same connection fails the same way
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    FateFlowHook().job.stop(kwargs["job"]["job_id"])


def test_execution_timeout_becomes_the_trigger_deadline(sb):
    from datetime import timedelta

    op = _submit(conf=toy_conf(seconds=5), deferrable=True, execution_timeout=timedelta(seconds=30), timeout=3600)
    with pytest.raises(TaskDeferred) as exc:
        op.execute(make_context())
    trigger = exc.value.trigger
    assert trigger.deadline_reason == "execution_timeout" and trigger.deadline < time.time() + 31
    sb.hold(False)


async def _first_event(trigger):
    events = [e async for e in trigger.run()]
    assert len(events) == 1
    return events[0]


# -- retry without duplicates -------------------------------------------------------------------------------------
class _WorkerDied(Exception):
    pass


def _try(op, ti, store=None, die=False):
    ctx = make_context(ti, **({"task_state_store": store} if store is not None else {}))
    if not die:
        return op.execute(ctx)
    with mock.patch.object(base_mod.time, "sleep", side_effect=_WorkerDied):
        with pytest.raises(_WorkerDied):
            op.execute(ctx)
    return ti.xcoms["job_id"]


@pytest.mark.parametrize("use_store", [False, True], ids=["marker", "task_state_store"])
def test_retry_reattaches_to_the_running_job(sb, use_store):
    store = FakeStateStore() if use_store else None
    if use_store:
        base_mod_flag = mock.patch.object(base_mod, "AIRFLOW_V_3_3_PLUS", True)
        base_mod_flag.start()
    try:
        before = sb.jobs_count()
        op = _submit(conf=toy_conf(seconds=1.5), retries=2, task_id=f"reattach_{use_store}")
        first = _try(op, FakeTI(task_id=op.task_id, max_tries=2, try_number=1), store, die=True)
        # the worker died mid-wait; the next try (any worker, fresh operator) reattaches
        op2 = _submit(conf=toy_conf(seconds=1.5), retries=2, task_id=op.task_id)
        ti2 = FakeTI(task_id=op.task_id, max_tries=2, try_number=2)
        assert _try(op2, ti2, store) == first
        assert sb.jobs_count() == before + 1
        # once it succeeded, a further retry returns at once with the same job
        assert _try(_submit(conf=toy_conf(), retries=2, task_id=op.task_id),
                    FakeTI(task_id=op.task_id, max_tries=2, try_number=3), store) == first
        assert sb.jobs_count() == before + 1
        # clearing the task starts a new retry series: a new job
        cleared = FakeTI(task_id=op.task_id, max_tries=5, try_number=4)
        assert _try(_submit(conf=toy_conf(), retries=2, task_id=op.task_id), cleared, store) != first
        assert sb.jobs_count() == before + 2
    finally:
        if use_store:
            base_mod_flag.stop()


def test_retry_after_a_failed_job_submits_anew(sb):
    before = sb.jobs_count()
    op = _submit(conf=toy_conf(fail="boom"), retries=1, task_id="refail")
    with pytest.raises(FateFlowJobFailedError):
        op.execute(make_context(FakeTI(task_id="refail", max_tries=1, try_number=1)))
    job2 = _submit(retries=1, task_id="refail").execute(make_context(FakeTI(task_id="refail", max_tries=1,
                                                                              try_number=2)))
    assert sb.jobs_count() == before + 2
    assert _query(job2).status.value == "success"


# -- the small job operators ---------------------------------------------------------------------------------------
def _failed_job():
    with pytest.raises(FateFlowJobFailedError) as failed:
        _submit(conf=toy_conf(fail="once")).execute(make_context())  # the behaviour is used up by this run
    return failed.value.job_id


@pytest.mark.parametrize("deferrable", [False, True], ids=["in_worker", "deferred"])
def test_rerun_of_a_failed_job_waits_for_the_new_run(sb, deferrable):
    """Right after job/rerun FATE still shows the old run's "failed" (about 2 s on a real server): the wait must
    not take it for the rerun's end, at any poll interval."""
    job_id = _failed_job()
    sb.configure(pace=0.5)  # the rerun takes a moment, so the first check finds it unfinished
    op = RerunJobOperator(task_id="rerun", job_id=job_id, poll_interval=0.05, deferrable=deferrable)
    if deferrable:
        trigger, kwargs = _deferred(op)
        assert trigger.stale_end_time is not None  # the old run's end
        event = asyncio.run(_first_event(trigger)).payload
        assert event["outcome"] == "succeeded", event
        assert RerunJobOperator(task_id="rerun", job_id=job_id).execute_complete(make_context(), event=event,
                                                                                 **kwargs) == job_id
    else:
        assert op.execute(make_context()) == job_id
    assert _query(job_id).status.value == "success"


def test_rerun_of_a_successful_job_succeeds_at_once(sb):
    job_id = _submit().execute(make_context())
    op = RerunJobOperator(task_id="rerun", job_id=job_id, poll_interval=0.05, deferrable=True)
    with mock.patch.object(RerunJobOperator, "defer") as defer:
        assert op.execute(make_context()) == job_id
    defer.assert_not_called()


def test_clean_and_stop(sb):
    job_id = _submit().execute(make_context())
    assert "success" in CleanJobOperator(task_id="clean", job_id=job_id).execute(make_context()).lower()
    assert StopJobOperator(task_id="stop", job_id="nope", missing_ok=True).execute(make_context()) is None
    with pytest.raises(FateFlowInputError, match="stop_status"):
        StopJobOperator(task_id="stop", job_id=job_id, stop_status="paused").execute(make_context())


def test_queue_clean_cancels_waiting_jobs(sb):
    sb.hold(True)
    try:
        waiting = _submit(wait_for_completion=False).execute(make_context())
        assert waiting in QueueCleanOperator(task_id="q").execute(make_context())
    finally:
        sb.hold(False)
    assert _query(waiting).status.value == "canceled"


def test_generate_predict_dsl(sb):
    predict = GeneratePredictDslOperator(task_id="g", train_dsl=str(EXAMPLES / "hetero_lr_dsl.json"),
                                         components="data_transform_0, hetero_lr_0").execute(make_context())
    assert "hetero_lr_0" in predict["components"]
    with pytest.raises(FateFlowInputError, match="not in the training DSL"):
        GeneratePredictDslOperator(task_id="g2", train_dsl=str(EXAMPLES / "hetero_lr_dsl.json"),
                                   components=["nope_0"]).execute(make_context())


def test_job_log_downloads_into_a_checked_directory(sb, tmp_path):
    import os

    job_id = _submit().execute(make_context())
    path = JobLogOperator(task_id="log", job_id=job_id, output_dir=str(tmp_path / "logs")).execute(make_context())
    assert path.endswith(f"job_{job_id}_log")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.geteuid() != 0:
            with pytest.raises(FateFlowInputError, match="not writable"):
                JobLogOperator(task_id="log2", job_id=job_id, output_dir=str(ro)).execute(make_context())
    finally:
        ro.chmod(0o700)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FateFlowInputError, match="output_dir"):
        JobLogOperator(task_id="log3", job_id=job_id, output_dir=str(tmp_path / "afile")).execute(make_context())


def test_failure_report_puts_the_party_with_fates_error_report_first():
    """FATE marks a failed component failed at every party; only the party where it broke has a report."""
    import logging

    from airflow_provider_fateflow.client.results import TaskRecord
    from airflow_provider_fateflow.client.wait import failure_report

    rows = [TaskRecord.from_dict({
        "f_job_id": "42", "f_component_name": "hetero_lr_0", "f_role": role, "f_party_id": party,
        "f_status": "failed", "f_party_status": "failed", "f_error_report": report})
        for role, party, report in (("arbiter", 10000, ""), ("guest", 9999, None), ("host", 10000, "ValueError: nan"))
    ]
    lines = []
    log = logging.getLogger("test.report")
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log.addHandler(handler)
    try:
        reason = failure_report(None, "42", "failed", log, None, tasks=rows)
    finally:
        log.removeHandler(handler)
    assert reason == "component hetero_lr_0 failed on host/10000: ValueError: nan"
    components = [line for line in lines if line.startswith("  component")]
    assert components[0].startswith("  component hetero_lr_0 (None) on host/10000") and "ValueError: nan" in components[0]
