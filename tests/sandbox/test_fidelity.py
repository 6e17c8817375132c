"""The sandbox behaves like the recorded FATE Flow 1.11.2 where clients trip: reruns, parties, time.

Each test names the real server's behaviour it checks; every wait is a poll with a generous deadline.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_fateflow.testing import FateFlowSandbox
from airflow_provider_fateflow.testing import timing

from _sandbox_helpers import EXAMPLES, example, post, submit, upload_file, wait_status, wait_task

TOY = ("toy_example_conf.json", "toy_example_dsl.json")


def rows(sb: FateFlowSandbox, job_id: str) -> list[dict[str, Any]]:
    """Every job row (all parties) of a job, in the server's order."""
    return post(sb, "job/query", {"job_id": job_id})["data"]


def tasks(sb: FateFlowSandbox, job_id: str) -> list[dict[str, Any]]:
    """Every task row of a job."""
    return post(sb, "job/task/query", {"job_id": job_id})["data"]


def poll(what: Callable[[], Any], timeout: float = 90, step: float = 0.02) -> Any:
    """The first truthy value of ``what()`` within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"nothing within {timeout}s: {what}")


def _upload_tables(sb: FateFlowSandbox) -> None:
    for role in ("guest", "host"):
        wait_status(sb, upload_file(sb, EXAMPLES / f"{role}.csv", "experiment", f"breast_hetero_{role}"), "success",
                    timeout=60)


@pytest.fixture
def instant() -> Iterator[FateFlowSandbox]:
    """Instant mode with a long scheduler interval: the stale status after a rerun lasts 2 s, whatever the load."""
    with FateFlowSandbox(pace=0, scheduler_interval=2) as sb:
        yield sb


def test_rerun_keeps_the_old_status_until_the_scheduler_picks_it_up(instant: FateFlowSandbox) -> None:
    """Real server: ``job/rerun`` raises ``f_rerun_signal``; the job stays ``failed`` until the scheduler loop
    (2 s) reruns it from the failed task."""
    sb = instant
    instant.behave("secure_add_example_0", fail="boom")
    job = submit(sb, example(TOY[0]), example(TOY[1]))
    wait_status(sb, job, "failed", timeout=60)
    answer = post(sb, "job/rerun", {"job_id": job})
    assert (answer["retcode"], answer["retmsg"]) == (0, "rerun job success")
    stale = rows(sb, job)
    assert {r["f_status"] for r in stale} == {"failed"}
    assert all(r["f_rerun_signal"] is True for r in stale)
    after = poll(lambda: (lambda rs: rs if {r["f_status"] for r in rs} == {"success"} else None)(rows(sb, job)))
    assert all(r["f_rerun_signal"] is False and r["f_tag"] == "job_end" for r in after)
    assert {t["f_task_version"] for t in tasks(sb, job)} == {1}


def test_instant_mode_still_delays_a_rerun() -> None:
    """Instant mode keeps a short but real scheduler delay: right after the answer the status is the old one."""
    assert timing.scheduler_seconds({"pace": 0}) > 0
    assert timing.scheduler_seconds({"pace": None}) == timing.REAL_SCHEDULER_S
    assert timing.scheduler_seconds({"pace": 0, "scheduler_interval": 7}) == 7


def test_rerun_of_a_succeeded_job_answers_success_and_changes_nothing(instant: FateFlowSandbox) -> None:
    """Real server: rerunning a job that succeeded answers retcode 0; the scheduler finds no task to rerun."""
    sb = instant
    sb.configure(scheduler_interval=0.2)
    job = submit(sb, example(TOY[0]), example(TOY[1]))
    wait_status(sb, job, "success", timeout=60)
    before = tasks(sb, job)
    answer = post(sb, "job/rerun", {"job_id": job})
    assert (answer["retcode"], answer["retmsg"]) == (0, "rerun job success")
    poll(lambda: all(r["f_rerun_signal"] is False for r in rows(sb, job)))  # the scheduler has read the signal
    assert {r["f_status"] for r in rows(sb, job)} == {"success"}
    assert [(t["f_status"], t["f_task_version"]) for t in tasks(sb, job)] == [
        (t["f_status"], t["f_task_version"]) for t in before]
    assert post(sb, "job/rerun", {"job_id": "202601010000000000000"})["retcode"] == 102


def test_parties_end_one_by_one_in_conf_order_with_recorded_rows_and_tasks() -> None:
    """Real server (3-party HeteroLR job): rows come arbiter, host, guest and end in that order, moments apart;
    the arbiter has no reader/data_transform task; the host's evaluation (need_run false) reports party
    status ``pass`` while the task's status is ``success``."""
    with FateFlowSandbox(time_scale=0.01) as sb:
        sb.configure(party_lag=1.0)
        _upload_tables(sb)
        job = submit(sb, example("hetero_lr_conf.json"), example("hetero_lr_dsl.json"))
        assert [r["f_role"] for r in rows(sb, job)] == ["arbiter", "host", "guest"]
        split = poll(lambda: (lambda rs: rs if {r["f_status"] for r in rs} == {"success", "running"} else None)(
            rows(sb, job)), timeout=120)
        assert [r["f_status"] for r in split][0] == "success"  # the arbiter first, the guest still running
        assert split[-1]["f_role"] == "guest" and split[-1]["f_status"] == "running"
        wait_status(sb, job, "success", timeout=120)
        ts = tasks(sb, job)
        arbiter = {t["f_component_name"] for t in ts if t["f_role"] == "arbiter"}
        assert arbiter == {"hetero_lr_0", "evaluation_0"}
        host_eval = [t for t in ts if t["f_role"] == "host" and t["f_component_name"] == "evaluation_0"]
        assert [(t["f_status"], t["f_party_status"]) for t in host_eval] == [("success", "pass")]
        guest = [(t["f_status"], t["f_party_status"]) for t in ts if t["f_role"] == "guest"]
        assert guest == [("success", "success")] * 4


def test_default_timing_lets_a_client_stop_a_running_30_iteration_job() -> None:
    """With no options a 30-iteration HeteroLR runs long enough (as on the real server: minutes) to be stopped
    while ``hetero_lr_0`` runs; it ends ``canceled`` at every party, and a toy job beside it still succeeds."""
    with FateFlowSandbox() as sb:
        _upload_tables(sb)
        job = submit(sb, example("toy_example_conf.json"), example("toy_example_dsl.json"))
        long = submit(sb, example("hetero_lr_long_conf.json"), example("hetero_lr_dsl.json"))
        wait_task(sb, long, "hetero_lr_0", "running", timeout=120)
        assert post(sb, "job/stop", {"job_id": long})["retcode"] == 0
        assert {r["f_status"] for r in rows(sb, long)} == {"canceled"}
        lr = {(t["f_role"], t["f_status"]) for t in tasks(sb, long) if t["f_component_name"] == "hetero_lr_0"}
        assert lr == {("guest", "canceled"), ("host", "canceled"), ("arbiter", "canceled")}
        wait_status(sb, job, "success", timeout=60)


def test_timing_model_grows_with_iterations_and_rows() -> None:
    """The model's component times: a HeteroLR grows with max_iter and rows; the example job is 5-10 s."""
    lr = timing.real_seconds
    assert lr("HeteroLR", {"max_iter": 30}, 200) > lr("HeteroLR", {"max_iter": 3}, 200)
    assert lr("HeteroLR", {"max_iter": 3}, 20000) > lr("HeteroLR", {"max_iter": 3}, 200)
    assert lr("DataTransform", {}, 20000) > lr("DataTransform", {}, 200)
    example_job = sum(timing.component_seconds({"pace": None}, m, {"max_iter": 3}, 200)
                      for m in ("Reader", "DataTransform", "HeteroLR", "Evaluation"))
    assert 5 <= example_job <= 10
    assert timing.component_seconds({"pace": 0}, "HeteroLR", {"max_iter": 30}, 200) == 0
    assert timing.component_seconds({"pace": 2.5}, "HeteroLR", {"max_iter": 30}, 200) == 2.5


def test_missing_table_fails_the_reader_with_the_real_message(sandbox: FateFlowSandbox) -> None:
    """Real server: a reader on a missing table fails with ``RuntimeError: can not found table name: ...``."""
    conf = example("hetero_lr_conf.json")
    conf["component_parameters"]["role"]["host"]["0"]["reader_0"]["table"]["name"] = "no_such_table"
    _upload_tables(sandbox)
    job = submit(sandbox, conf, example("hetero_lr_dsl.json"))
    wait_status(sandbox, job, "failed", timeout=60)
    reports = [t["f_error_report"] for t in tasks(sandbox, job) if t["f_component_name"] == "reader_0"
               and t["f_role"] == "host"]
    assert reports and "RuntimeError: can not found table name: no_such_table namespace: experiment" in reports[0]


def _auc_and_model(sb: FateFlowSandbox, **lr_params: Any) -> tuple[float, dict[str, Any], dict[str, Any]]:
    conf = example("hetero_lr_conf.json")
    conf["component_parameters"]["common"]["hetero_lr_0"].update(lr_params)
    job = submit(sb, conf, example("hetero_lr_dsl.json"))
    wait_status(sb, job, "success", timeout=120)
    metrics = post(sb, "tracking/component/metric/all", {"job_id": job, "role": "guest", "party_id": 9999,
                                                        "component_name": "evaluation_0"})["data"]
    models = [post(sb, "tracking/component/output/model", {"job_id": job, "role": role, "party_id": party,
                                                            "component_name": "hetero_lr_0"})["data"]
              for role, party in (("guest", 9999), ("host", 10000))]
    return dict(metrics["train"]["hetero_lr_0"]["data"])["auc"], models[0], models[1]


def test_metrics_come_from_a_logistic_regression_on_both_parties_data(sandbox: FateFlowSandbox) -> None:
    """The evaluation's AUC is that of a model trained on the guest's and the host's features joined by id,
    with the job's max_iter, learning rate, penalty and alpha: it changes when they change."""
    _upload_tables(sandbox)
    auc, guest, host = _auc_and_model(sandbox)
    assert 0.9 < auc <= 1.0
    assert sorted(guest["weight"]) == ["x0", "x1", "x2", "x3"] and guest["iters"] == 3
    assert sorted(host["weight"]) == [f"x{i}" for i in range(4, 10)] and host["intercept"] == 0.0
    assert any(abs(v) > 0 for v in host["weight"].values())
    strong, strong_guest, _ = _auc_and_model(sandbox, alpha=50.0)
    assert strong != auc
    assert sum(abs(v) for v in strong_guest["weight"].values()) < sum(abs(v) for v in guest["weight"].values())
    one, one_guest, _ = _auc_and_model(sandbox, max_iter=1)
    assert one_guest["iters"] == 1 and one_guest["weight"] != guest["weight"]
    again, _, _ = _auc_and_model(sandbox)
    assert again == auc  # deterministic
