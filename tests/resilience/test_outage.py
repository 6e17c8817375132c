"""An outage: FATE Flow goes down for 30 seconds while every kind of wait is waiting, then comes back on the same
state directory. Every wait rides it out and ends with the job's real outcome:

- ``JobStatusSensor`` in poke mode (in a worker thread),
- ``JobStatusSensor`` and ``TaskStatusSensor`` in reschedule mode (``dag.test()``, which reruns them),
- ``JobStatusTrigger`` and ``TaskStatusTrigger`` (asyncio, as in the triggerer),
- ``SubmitJobOperator`` waiting in the worker.

The jobs are held ``waiting`` by the sandbox until it goes down (the hold is not kept across restarts), so
they can only succeed after the restart: a successful wait has seen the server come back. The sandbox runs
in a child process and is killed, as a crash would do; it restarts on the same port and state directory.
All the waits share one outage window.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pendulum
import pytest
from _resilience_helpers import set_conn, states, task_instances

from airflow_provider_fateflow.client.errors import FateFlowError
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook
from airflow_provider_fateflow.operators.job import SubmitJobOperator
from airflow_provider_fateflow.sensors.fateflow import JobStatusSensor, TaskStatusSensor
from airflow_provider_fateflow.testing import FateFlowSandbox
from airflow_provider_fateflow.triggers.fateflow import JobStatusTrigger, TaskStatusTrigger
from operators.helpers import FakeTI, make_context, toy_conf, toy_dsl

pytestmark = pytest.mark.slow

OUTAGE = 30.0
CONN_ID = "fateflow_outage"
#: Each wait's polls: (epoch seconds, True when FATE Flow answered).
POLLS: dict[str, list[tuple[float, bool]]] = defaultdict(list)
READY: dict[str, threading.Event] = defaultdict(threading.Event)


def _record(name: str, answered: bool) -> None:
    POLLS[name].append((time.time(), answered))
    READY[name].set()


class RecordingJobSensor(JobStatusSensor):
    def _check(self, context: Any) -> Any:
        try:
            result = super()._check(context)
        except FateFlowError:
            _record(self.task_id, False)
            raise
        _record(self.task_id, True)
        return result


class RecordingTaskSensor(TaskStatusSensor):
    def _check(self, context: Any) -> Any:
        try:
            result = super()._check(context)
        except FateFlowError:
            _record(self.task_id, False)
            raise
        _record(self.task_id, True)
        return result


class RecordingSubmit(SubmitJobOperator):
    def _poll(self, watch: Any, clock: Any) -> Any:
        try:
            record = super()._poll(watch, clock)
        except FateFlowError:
            _record(self.task_id, False)
            raise
        _record(self.task_id, True)
        return record


def _recording_trigger(base: type, name: str) -> type:
    class Recording(base):  # type: ignore[misc, valid-type]
        async def _poll(self, client: Any, watch: Any, waited: float) -> Any:
            try:
                payload = await super()._poll(client, watch, waited)
            except FateFlowError:
                _record(name, False)
                raise
            _record(name, True)
            return payload

    return Recording


class Waiter(threading.Thread):
    """Runs one wait in a thread; keeps its result or exception and when it ended."""

    def __init__(self, name: str, wait: Any) -> None:
        super().__init__(name=name, daemon=True)
        self.wait, self.result, self.error, self.ended = wait, None, None, None

    def run(self) -> None:
        try:
            self.result = self.wait()
        except BaseException as err:  # noqa: BLE001 - reported by the test
            self.error = err
        self.ended = time.time()


async def _trigger_events(*triggers: Any) -> list[dict[str, Any]]:
    async def first(trigger: Any) -> dict[str, Any]:
        events = [event.payload async for event in trigger.run()]
        assert len(events) == 1, events
        return {**events[0], "ended": time.time()}

    return list(await asyncio.gather(*(first(t) for t in triggers)))


def _reschedule_dag(job_id: str) -> Any:
    from airflow.sdk import DAG

    common = {"job_id": job_id, "mode": "reschedule", "poke_interval": 1, "timeout": 180,
              "fateflow_conn_id": CONN_ID}
    with DAG("resilience_outage_reschedule", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             catchup=False) as dag:
        RecordingJobSensor(task_id="reschedule_job_sensor", **common)
        RecordingTaskSensor(task_id="reschedule_task_sensor", component_name="secure_add_example_0", **common)
    return dag


def _during(name: str, down: float, up: float) -> list[bool]:
    return [answered for at, answered in POLLS[name] if down < at < up]


def test_every_wait_rides_out_a_30_second_outage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dag,
                                                 task_log):
    POLLS.clear()
    READY.clear()
    sb = FateFlowSandbox(pace=0.0, subprocess=True, state_dir=tmp_path / "state")
    sb.start()
    try:
        # quick client retries: the outage is outlasted by waiting, not by the client's retries
        set_conn(monkeypatch, CONN_ID, sb.port, retry_limit=2, retry_delay=0.1, retry_max_delay=0.2)
        sb.hold(True)
        hook = FateFlowHook(CONN_ID)
        jobs = {name: hook.job.submit(toy_conf(), toy_dsl()).job_id for name in ("poke", "reschedule", "trigger")}
        submitted = len(jobs)

        poke = RecordingJobSensor(task_id="poke_sensor", job_id=jobs["poke"], mode="poke", poke_interval=0.5,
                                  timeout=180, fateflow_conn_id=CONN_ID, deferrable=False)
        worker = RecordingSubmit(task_id="worker_wait", conf=toy_conf(), dsl=toy_dsl(), poll_interval=0.5,
                                 fateflow_conn_id=CONN_ID, deferrable=False)
        # one request per poll, so the trigger's own backoff (not the client's retries) rides out the outage
        trigger_kwargs = {"role": "guest", "party_id": 9999, "poll_interval": 0.3, "fateflow_conn_id": CONN_ID,
                          "hook_params": {"retry_limit": 1}}
        triggers = [
            _recording_trigger(JobStatusTrigger, "job_trigger")(job_id=jobs["trigger"], **trigger_kwargs),
            _recording_trigger(TaskStatusTrigger, "task_trigger")(job_id=jobs["trigger"],
                                                                  component_name="secure_add_example_0",
                                                                  **trigger_kwargs),
        ]
        waiters = {
            "poke_sensor": Waiter("poke_sensor", lambda: poke.execute(make_context(FakeTI(task_id="poke_sensor")))),
            "worker_wait": Waiter("worker_wait", lambda: worker.execute(make_context(FakeTI(task_id="worker_wait")))),
            "triggers": Waiter("triggers", lambda: asyncio.run(_trigger_events(*triggers))),
        }
        for waiter in waiters.values():
            waiter.start()
        # connections are read before dag.test() starts running tasks in this process
        for name in ("poke_sensor", "worker_wait", "job_trigger", "task_trigger"):
            assert READY[name].wait(30), f"{name} never polled"
        submitted += 1  # the worker's own job

        window: dict[str, float] = {}

        def outage() -> None:
            for name in ("reschedule_job_sensor", "reschedule_task_sensor"):
                READY[name].wait(60)
            sb.kill()
            window["down"] = time.time()
            time.sleep(OUTAGE)
            window["up_at"] = time.time()
            sb.start()
            window["up"] = time.time()

        controller = threading.Thread(target=outage, name="outage", daemon=True)
        controller.start()
        dr = run_dag(_reschedule_dag(jobs["reschedule"]))
        controller.join(OUTAGE + 60)
        for waiter in waiters.values():
            waiter.join(90)
        log = task_log()

        down, up = window["down"], window["up_at"]
        assert window["up"] - down >= OUTAGE
        # the rescheduled sensors
        assert dr.state == "success", states(dr)
        for ti in task_instances(dr).values():
            assert ti.state == "success" and ti.try_number == 1, (ti.task_id, ti.state, ti.try_number)
            assert ti.end_date.timestamp() > up
        # the poke-mode sensor and the operator waiting in the worker
        for name in ("poke_sensor", "worker_wait"):
            assert waiters[name].error is None, f"{name}: {waiters[name].error!r}"
            assert waiters[name].ended > up
        assert waiters["poke_sensor"].result["status"] == "success"
        assert hook.job.query(job_id=waiters["worker_wait"].result, role="guest",
                              party_id=9999)[0].status.value == "success"
        # the triggers: one success event each, after the restart
        assert waiters["triggers"].error is None, repr(waiters["triggers"].error)
        job_event, task_event = waiters["triggers"].result
        assert (job_event["outcome"], job_event["status"]) == ("succeeded", "success"), job_event
        assert (task_event["outcome"], task_event["status"]) == ("succeeded", "success"), task_event
        assert min(job_event["ended"], task_event["ended"]) > up
        # every wait really polled a dead server (and was not failed by it), then a live one
        for name in ("poke_sensor", "worker_wait", "job_trigger", "task_trigger", "reschedule_job_sensor",
                     "reschedule_task_sensor"):
            during = _during(name, down, up)
            assert during and not any(during), f"{name} did not poll during the outage: {POLLS[name]}"
            assert POLLS[name][-1][1] and POLLS[name][-1][0] > up
        assert "FATE Flow is unreachable or busy" in log  # the sensors said why they keep waiting
        assert "Could not get the status of FATE job" in log  # so did the operator
        assert "FATE Flow unreachable" in log  # and the triggers
        assert sb.jobs_count() == submitted, "the restart kept every job, and nothing was submitted twice"
    finally:
        sb.stop()
