"""The job engine: a scheduler thread that moves jobs like FATE Flow's DAG scheduler does.

A job is planned at submit time (component order from the DSL dependencies, per-component
behaviour). The engine keeps a heap of due times, so 1,000 running jobs cost nothing while
they wait: each job is touched only when its current component is due (or its timeout fires).
All parties of a job live on this one Flow, like the recorded standalone server, and move
together component by component: waiting -> running -> success / failed / canceled / timeout; at a
natural end each party's job row reaches its end status at its own moment (the initiator first).
How long each step takes is :mod:`.timing`'s business. ``job/rerun`` only raises the rerun signal: the
job keeps its old status until the simulated scheduler loop picks the signal up.
"""
from __future__ import annotations

import copy
import csv
import heapq
import io
import json
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from . import evaluation, timing
from .records import (ARBITER_MODULES, END_STATUSES, MODEL_MODULES, MODEL_STORE_ERROR, PREDICT_MODULES, fmt_date,
                      now_ms, party_model_id, task_cmd, worker_id)
from .store import Store

log = logging.getLogger("fateflow_sandbox.engine")


class ComponentError(Exception):
    """A simulated component failed; the message becomes the task's ``f_error_report``."""


def dsl_order(dsl: dict[str, Any]) -> list[str]:
    """Components in dependency order (stable: DSL order among independent components)."""
    comps = dsl.get("components", {})
    deps: dict[str, set[str]] = {}
    for name, c in comps.items():
        d: set[str] = set()
        for kind in ("data", "model", "isometric_model", "cache"):
            val = (c.get("input") or {}).get(kind)
            refs: list[str] = []
            if isinstance(val, dict):
                for v in val.values():
                    refs.extend(v if isinstance(v, list) else [v])
            elif isinstance(val, list):
                refs.extend(val)
            for ref in refs:
                src = str(ref).split(".")[0]
                if src in comps and src != name:
                    d.add(src)
        deps[name] = d
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(comps):
        progressed = False
        for name in comps:
            if name not in done and deps[name] <= done:
                order.append(name)
                done.add(name)
                progressed = True
        if not progressed:  # cycle: keep DSL order for the rest
            order.extend(n for n in comps if n not in done)
            break
    return order


def read_table_rows(table: dict[str, Any], limit: int = -1) -> tuple[list[str], list[list[str]]]:
    """Header (all columns, id first) and rows of a stored table."""
    header = list(table.get("columns") or [])
    rows: list[list[str]] = []
    path = table.get("path")
    if not path or not os.path.exists(path):
        return header, rows
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=table.get("delimiter") or ",")
        for i, row in enumerate(reader):
            if i == 0 and table.get("head", 1):
                continue
            if not row:
                continue
            rows.append(row)
            if 0 <= limit <= len(rows):
                break
    return header, rows


class Engine:
    """Runs the jobs of one sandbox.

    :param store: the sqlite store.
    :param files_dir: where table, upload and model-store files live.
    :param settings: shared mutable settings (``pace``, ``serving``, ``model_store``, ``hold``, ``port``).
    """

    def __init__(self, store: Store, files_dir: Path, settings: dict[str, Any]) -> None:
        self.store = store
        self.files = files_dir
        self.settings = settings
        self.cv = threading.Condition(threading.RLock())
        self.heap: list[tuple[float, int, str, int]] = []
        #: (due, seq, job_id): rerun signals waiting for the scheduler loop
        self.signals: list[tuple[float, int, str]] = []
        #: trained learners of running jobs: (job_id, component, party or "") -> weights and scores
        self._fits: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.plans: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        for sub in ("tables", "uploads", "model_store", "models"):
            (self.files / sub).mkdir(parents=True, exist_ok=True)

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Reload unfinished jobs from the store and start the scheduler thread."""
        for plan in self.store.active_plans():
            self.plans[plan["job_id"]] = plan
            if plan["phase"] == "running" and plan.get("comp_due"):
                # resume the current component where it was (due times are wall clock)
                pass
            self._push(plan, time.time())
        for plan in self.store.active_plans():
            if plan.get("rerun_at"):
                self.plans.setdefault(plan["job_id"], plan)
                self._signal(plan["job_id"], float(plan["rerun_at"]))
        self._thread = threading.Thread(target=self._loop, name="fateflow-sandbox-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the scheduler thread."""
        with self.cv:
            self._stop = True
            self.cv.notify_all()
        if self._thread:
            self._thread.join(timeout=5)

    def _push(self, plan: dict[str, Any], due: float) -> None:
        with self.cv:
            plan["gen"] = plan.get("gen", 0) + 1
            self._seq += 1
            heapq.heappush(self.heap, (due, self._seq, plan["job_id"], plan["gen"]))
            self.cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self.cv:
                if self._stop:
                    return
                now = time.time()
                if self.signals and self.signals[0][0] <= now:
                    _, _, sig_job = heapq.heappop(self.signals)
                    try:
                        self._apply_rerun(sig_job)
                    except Exception:  # the engine must survive anything a job does
                        log.exception("engine failure on the rerun of job %s", sig_job)
                    continue
                if not self.heap:
                    self.cv.wait(min(self.signals[0][0] - now, 0.5) if self.signals else 0.5)
                    continue
                due, _, job_id, gen = self.heap[0]
                if self.signals and self.signals[0][0] < due:
                    due = self.signals[0][0]
                    self.cv.wait(min(due - now, 0.5))
                    continue
                if due > now:
                    self.cv.wait(min(due - now, 0.5))
                    continue
                heapq.heappop(self.heap)
                plan = self.plans.get(job_id)
                if plan is None or plan.get("gen") != gen or plan["phase"] == "done":
                    continue
                try:
                    self._advance(plan)
                except Exception:  # the engine must survive anything a job does
                    log.exception("engine failure on job %s", job_id)
                    self._end_job(plan, "failed")

    # -- submit --------------------------------------------------------------------------------------------------
    def add_job(self, plan: dict[str, Any]) -> None:
        """Register a freshly submitted job (rows and tasks are already stored)."""
        plan.setdefault("phase", "waiting")
        plan.setdefault("idx", 0)
        with self.cv:
            self.plans[plan["job_id"]] = plan
            self._save(plan)
            self._push(plan, time.time() + self._waiting_delay())

    def _waiting_delay(self) -> float:
        return timing.waiting_seconds(self.settings)

    def _signal(self, job_id: str, due: float) -> None:
        with self.cv:
            self._seq += 1
            heapq.heappush(self.signals, (due, self._seq, job_id))
            self.cv.notify_all()

    def _save(self, plan: dict[str, Any]) -> None:
        self.store.put_plan(plan["job_id"], plan, plan["phase"] != "done" or bool(plan.get("rerun_at")))

    # -- state machine -------------------------------------------------------------------------------------------
    def _advance(self, plan: dict[str, Any]) -> None:
        now = time.time()
        if plan["phase"] == "ending":
            self._end_next_party(plan)
            return
        if plan["phase"] == "waiting":
            if self.settings.get("hold"):
                self._push(plan, now + 0.1)
                return
            self._start_job(plan)
            if plan["phase"] == "running":
                self._start_component(plan)
            return
        if plan["phase"] != "running":
            return
        deadline = plan.get("deadline")
        if deadline and now >= deadline:
            self._end_job(plan, "timeout")
            return
        if now < plan["comp_due"]:
            self._push(plan, min(plan["comp_due"], deadline or plan["comp_due"]))
            return
        ok = self._finish_component(plan)
        if not ok:
            return
        plan["idx"] += 1
        if plan["idx"] >= len(plan["order"]):
            self._end_job(plan, "success", stagger=True)
        else:
            self._start_component(plan)

    def _start_job(self, plan: dict[str, Any]) -> None:
        ms = now_ms()
        cores = plan.get("cores", 4)

        def fn(rec: dict[str, Any]) -> None:
            rec.update({"f_status": "running", "f_apply_resource_time": ms, "f_cores": cores,
                        "f_engine_name": "STANDALONE", "f_engine_type": "computing", "f_remaining_cores": 0,
                        "f_resource_in_use": True, "f_start_time": ms, "f_start_date": fmt_date(ms),
                        "f_update_time": ms, "f_update_date": fmt_date(ms), "f_rerun_signal": False})
        self.store.update_job(plan["job_id"], fn)
        plan["phase"] = "running"
        plan["started"] = ms
        if plan.get("timeout"):
            plan["deadline"] = time.time() + float(plan["timeout"])
        self._save(plan)

    def _duration(self, plan: dict[str, Any], cpn: str) -> float:
        beh = plan.get("behave", {}).get(cpn, {})
        if beh.get("seconds") is not None:
            return float(beh["seconds"])
        if self.settings.get("pace") is not None:
            return timing.component_seconds(self.settings, plan["modules"][cpn], {}, None)
        module = plan["modules"][cpn]
        tasks = self.store.tasks(plan["job_id"], cpn)
        if not tasks:
            return 0.0
        init = next((t for t in tasks if t["f_role"] == t["f_initiator_role"]
                     and t["f_party_id"] == t["f_initiator_party_id"]), tasks[0])
        params = init["f_component_parameters"].get("ComponentParam", {})
        if plan.get("kind") == "predict":  # a learner predicts in one pass: no training iterations
            params = dict(params, max_iter=1, num_trees=1, epochs=1)
        return timing.component_seconds(self.settings, module, params, self._input_rows(plan, cpn, module, init,
                                                                                         params))

    def _input_rows(self, plan: dict[str, Any], cpn: str, module: str, task: dict[str, Any],
                    params: dict[str, Any]) -> int | None:
        """Rows the component reads (its input table at the initiator; an upload's file lines)."""
        if module == "Reader":
            ref = params.get("table") or {}
            table = self.store.get_table(str(ref.get("namespace", "")), str(ref.get("name", "")))
            return table["count"] if table else None
        if module == "Upload":
            count = (plan.get("upload") or {}).get("count")
            return int(count) if count is not None else None
        if module == "Download":
            dl = plan.get("download") or {}
            table = self.store.get_table(str(dl.get("namespace", "")), str(dl.get("table_name", "")))
            return table["count"] if table else None
        src = self._input_table(plan, cpn, task["f_role"], task["f_party_id"])
        return int(src["count"]) if src and src.get("count") is not None else None

    def _start_component(self, plan: dict[str, Any]) -> None:
        cpn = plan["order"][plan["idx"]]
        module = plan["modules"][cpn]
        ms = now_ms()
        port = self.settings.get("port", 9380)
        with self.store.transaction():
            for task in self.store.tasks(plan["job_id"], cpn):
                if task["f_status"] in END_STATUSES and task["f_status"] != "pass":
                    continue
                task.update({"f_status": "running", "f_party_status": "running", "f_start_time": ms,
                             "f_start_date": fmt_date(ms), "f_update_time": ms, "f_update_date": fmt_date(ms),
                             "f_worker_id": worker_id(), "f_run_pid": os.getpid(),
                             "f_engine_conf": {"computing_engine": "STANDALONE"}})
                task["f_cmd"] = task_cmd(task, port)
                if not self._runs_here(plan, cpn, module, task):
                    # the party reports pass; the task's federated status follows the other parties
                    task["f_party_status"] = "pass"
                    task.update({"f_end_time": ms, "f_end_date": fmt_date(ms), "f_elapsed": 0,
                                 "f_run_ip": "127.0.0.1", "f_run_port": port, "f_kill_status": True})
                self.store.put_task(task)
        plan["comp_due"] = time.time() + self._duration(plan, cpn)
        self._save(plan)
        deadline = plan.get("deadline")
        self._push(plan, min(plan["comp_due"], deadline) if deadline else plan["comp_due"])

    def _runs_here(self, plan: dict[str, Any], cpn: str, module: str, task: dict[str, Any]) -> bool:
        params = task["f_component_parameters"].get("ComponentParam", {})
        if params.get("need_run") is False:
            return False
        if task["f_role"] == "arbiter" and module not in ARBITER_MODULES:
            return False
        return True

    def _finish_component(self, plan: dict[str, Any]) -> bool:
        """Finish the current component at every party; False if the job failed."""
        cpn = plan["order"][plan["idx"]]
        module = plan["modules"][cpn]
        beh = plan.get("behave", {}).get(cpn, {})
        ms = now_ms()
        port = self.settings.get("port", 9380)
        failed_msg: str | None = None
        tasks = self.store.tasks(plan["job_id"], cpn)
        results: dict[tuple[str, str], str | None] = {}
        for task in tasks:
            if task["f_status"] != "running":
                continue
            err: str | None = None
            if task["f_party_status"] == "pass":
                pass
            elif beh.get("fail") and (beh.get("role") in (None, task["f_role"])) and (
                    beh.get("party_id") in (None, "") or str(beh.get("party_id")) == task["f_party_id"]):
                err = _error_report(cpn, str(beh["fail"]))
            else:
                try:
                    self._simulate(plan, cpn, module, task)
                except ComponentError as exc:
                    err = str(exc)
                except Exception as exc:  # noqa: BLE001 - any simulation bug is a task failure
                    log.exception("component %s failed", cpn)
                    err = _error_report(cpn, repr(exc))
            results[(task["f_role"], task["f_party_id"])] = err
            if err and failed_msg is None:
                failed_msg = err
        with self.store.transaction():
            for task in tasks:
                key = (task["f_role"], task["f_party_id"])
                if key not in results:
                    continue
                err = results[key]
                status = "failed" if (err or failed_msg) else "success"
                if task["f_party_status"] == "pass":
                    task.update({"f_status": status, "f_update_time": ms, "f_update_date": fmt_date(ms)})
                    self.store.put_task(task)
                    continue
                task.update({"f_status": status, "f_party_status": status, "f_end_time": ms,
                             "f_end_date": fmt_date(ms), "f_elapsed": ms - (task["f_start_time"] or ms),
                             "f_run_ip": "127.0.0.1", "f_run_port": port, "f_kill_status": True,
                             "f_update_time": ms, "f_update_date": fmt_date(ms), "f_error_report": err or ""})
                self.store.put_task(task)
        if failed_msg is not None:
            self._end_job(plan, "failed", stagger=True)
            return False
        self._update_progress(plan)
        return True

    def _update_progress(self, plan: dict[str, Any]) -> None:
        tasks = self.store.tasks(plan["job_id"])
        ms = now_ms()

        def fn(rec: dict[str, Any]) -> None:
            mine = [t for t in tasks if t["f_role"] == rec["f_role"] and t["f_party_id"] == rec["f_party_id"]]
            done = sum(1 for t in mine if t["f_status"] in END_STATUSES)
            rec["f_progress"] = int(done * 100 / len(mine)) if mine else 100
            rec["f_update_time"], rec["f_update_date"] = ms, fmt_date(ms)
        self.store.update_job(plan["job_id"], fn)

    def _end_job(self, plan: dict[str, Any], status: str, *, cancel: bool = False, stagger: bool = False) -> None:
        """Put a job in an end status; running tasks follow it.

        :param stagger: a natural end (the last component finished, or one failed): the first party's job row
            ends now, every other party's row one party lag later (``timing.party_lag_seconds``), in the
            order of the conf's roles. A stop, a clean of the queue or a timeout ends every row at once.
        """
        ms = now_ms()
        was_waiting = plan["phase"] == "waiting"
        with self.store.transaction():
            for task in self.store.tasks(plan["job_id"]):
                if task["f_status"] == "running":
                    party_status = "pass" if task["f_party_status"] == "pass" else status
                    task.update({"f_status": status, "f_party_status": party_status, "f_end_time": None,
                                 "f_update_time": ms, "f_update_date": fmt_date(ms), "f_kill_status": True,
                                 "f_run_ip": "127.0.0.1", "f_run_port": self.settings.get("port", 9380)})
                    self.store.put_task(task)
            parties = self._end_order(plan["job_id"])
            lag = timing.party_lag_seconds(self.settings) if stagger else 0.0
            now_parties = parties if lag <= 0 else parties[:1]
            if status == "success":  # in the same transaction: no reader sees "success" before the models
                try:
                    self._on_success(plan)
                except Exception:  # noqa: BLE001
                    log.exception("post-success hook failed for %s", plan["job_id"])
            self._end_rows(plan["job_id"], status, now_parties, ms, cancel=cancel, was_waiting=was_waiting)
        left = [p for p in parties if p not in now_parties]
        plan["status"] = status
        if left:
            plan["phase"] = "ending"
            plan["ending"] = {"status": status, "left": [list(p) for p in left], "lag": lag}
            self._save(plan)
            self._push(plan, time.time() + lag)
            return
        plan["phase"] = "done"
        plan.pop("ending", None)
        self._save(plan)
        self._forget_fits(plan["job_id"])

    def _forget_fits(self, job_id: str) -> None:
        for key in [k for k in self._fits if k[0] == job_id]:
            self._fits.pop(key, None)

    def _end_order(self, job_id: str) -> list[tuple[str, str]]:
        """(role, party_id) of a job's rows in the order they end: the order of the job conf's ``role`` (as
        recorded: the toy job's guest before its host; the HeteroLR job's arbiter, host, then guest)."""
        keys: list[tuple[str, str]] = []
        for r in self.store.query_jobs({"job_id": job_id}):  # in creation order, as job/query lists them
            if (r["f_role"], r["f_party_id"]) not in keys:
                keys.append((r["f_role"], r["f_party_id"]))
        return keys

    def _end_rows(self, job_id: str, status: str, parties: list[tuple[str, str]], ms: int, *, cancel: bool,
                  was_waiting: bool) -> None:
        """Write the end status into the job rows of ``parties``."""
        tasks = self.store.tasks(job_id)
        wanted = {(str(r), str(p)) for r, p in parties}

        def fn(rec: dict[str, Any]) -> None:
            if (str(rec["f_role"]), str(rec["f_party_id"])) not in wanted:
                return
            rec["f_status"] = status
            rec["f_tag"] = "job_end"
            rec["f_update_time"], rec["f_update_date"] = ms, fmt_date(ms)
            if cancel:
                rec["f_cancel_signal"] = True
                rec["f_cancel_time"] = ms
            if was_waiting:
                return
            mine = [t for t in tasks if t["f_role"] == rec["f_role"] and t["f_party_id"] == rec["f_party_id"]]
            done = sum(1 for t in mine if t["f_status"] in END_STATUSES)
            rec["f_progress"] = 100 if status == "success" else (int(done * 100 / len(mine)) if mine else 0)
            rec.update({"f_end_time": ms, "f_end_date": fmt_date(ms),
                        "f_elapsed": ms - (rec["f_start_time"] or ms), "f_end_scheduling_updates": 1,
                        "f_remaining_cores": rec["f_cores"], "f_resource_in_use": False,
                        "f_return_resource_time": ms})
            if cancel:
                rec["f_ready_signal"] = True
                rec["f_ready_time"] = ms
        self.store.update_job(job_id, fn)

    def _end_next_party(self, plan: dict[str, Any], *, all_left: bool = False, cancel: bool = False) -> None:
        """A job in phase ``ending``: the next party's row (or every row left) reaches the end status."""
        ending = plan.get("ending") or {}
        left = [tuple(p) for p in ending.get("left", [])]
        now_parties = left if all_left else left[:1]
        self._end_rows(plan["job_id"], ending.get("status", plan.get("status") or "success"),
                       [(str(r), str(p)) for r, p in now_parties], now_ms(), cancel=cancel, was_waiting=False)
        rest = left[len(now_parties):]
        if rest:
            ending["left"] = [list(p) for p in rest]
            self._save(plan)
            self._push(plan, time.time() + float(ending.get("lag") or 0))
            return
        plan["phase"] = "done"
        plan.pop("ending", None)
        self._save(plan)

    # -- external controls ---------------------------------------------------------------------------------------
    def stop_job(self, job_id: str, stop_status: str = "canceled") -> bool:
        """``job/stop``: cancel a waiting or running job; a finished job only gets its cancel signal."""
        with self.cv:
            plan = self.plans.get(job_id) or self.store.get_plan(job_id)
            if plan is not None and plan["phase"] == "ending":  # the parties still running end at once
                self.plans[job_id] = plan
                self._end_next_party(plan, all_left=True)
            elif plan is not None and plan["phase"] != "done":
                self.plans[job_id] = plan
                self._end_job(plan, stop_status if stop_status in ("canceled", "failed") else "canceled",
                              cancel=True)
                return True
            ms = now_ms()

            def fn(rec: dict[str, Any]) -> None:
                rec["f_cancel_signal"] = True
                rec["f_cancel_time"] = ms
            return bool(self.store.update_job(job_id, fn))

    def rerun(self, job_id: str) -> bool:
        """``job/rerun``: raise the rerun signal; the job keeps its status until the scheduler loop picks it up.

        Within ``timing.scheduler_seconds`` the loop reruns a failed, canceled or timed-out job from its
        first unfinished task (back to ``waiting``); a job with nothing to rerun (it succeeded, or it is
        still waiting or running) only loses the signal again. False if the job is unknown.
        """
        with self.cv:
            plan = self.plans.get(job_id) or self.store.get_plan(job_id)
            if plan is None:
                return False
            due = time.time() + timing.scheduler_seconds(self.settings)
            plan["rerun_at"] = due
            self.plans[job_id] = plan
            self._save(plan)
            self.store.update_job(job_id, lambda rec: rec.update({"f_rerun_signal": True}))
            self._signal(job_id, due)
            return True

    def _apply_rerun(self, job_id: str) -> None:
        """The scheduler loop reads a rerun signal (``DAGScheduler.rerun_job``)."""
        plan = self.plans.get(job_id) or self.store.get_plan(job_id)
        if plan is None or not plan.get("rerun_at"):
            return
        if plan["phase"] == "ending":
            self._end_next_party(plan, all_left=True)
        plan["rerun_at"] = None
        ms = now_ms()
        if plan["phase"] != "done" or plan.get("status") == "success":  # no task to rerun: the signal goes
            self._save(plan)
            self.store.update_job(job_id, lambda rec: rec.update({"f_rerun_signal": False}))
            return
        first = None
        with self.store.transaction():
            for i, cpn in enumerate(plan["order"]):
                tasks = self.store.tasks(job_id, cpn)
                if all(t["f_status"] in ("success", "pass") for t in tasks):
                    continue
                first = i if first is None else first
                for t in tasks:
                    t.update({"f_status": "waiting", "f_party_status": "waiting", "f_start_time": None,
                              "f_start_date": None, "f_end_time": None, "f_end_date": None,
                              "f_elapsed": None, "f_error_report": "", "f_kill_status": False,
                              "f_task_version": t["f_task_version"] + 1, "f_update_time": ms,
                              "f_update_date": fmt_date(ms)})
                    self.store.put_task(t)

            def fn(rec: dict[str, Any]) -> None:
                rec.update({"f_status": "waiting", "f_rerun_signal": False, "f_tag": "rerun",
                            "f_end_time": None, "f_end_date": None, "f_elapsed": None,
                            "f_cancel_signal": False, "f_cancel_time": None, "f_end_scheduling_updates": 0,
                            "f_update_time": ms, "f_update_date": fmt_date(ms)})
            self.store.update_job(job_id, fn)
        plan.update({"phase": "waiting", "idx": first or 0, "status": None, "deadline": None})
        plan.get("behave", {}).clear()
        self.plans[job_id] = plan
        self._save(plan)
        self._push(plan, time.time())

    def clean_queue(self) -> dict[str, int]:
        """``job/clean/queue``: cancel every waiting job this Flow initiated."""
        out: dict[str, int] = {}
        for job_id in self.store.waiting_initiator_jobs():
            with self.cv:
                plan = self.plans.get(job_id)
                if plan is None or plan["phase"] != "waiting":
                    continue
                self._end_job(plan, "canceled", cancel=True)
                out[job_id] = 0
        return out

    # -- component simulation ------------------------------------------------------------------------------------
    def _simulate(self, plan: dict[str, Any], cpn: str, module: str, task: dict[str, Any]) -> None:
        role, party = task["f_role"], task["f_party_id"]
        params = task["f_component_parameters"].get("ComponentParam", {})
        job_id = plan["job_id"]
        if module == "Upload":
            self._run_upload(plan)
        elif module == "Download":
            self._run_download(plan)
        elif module in ("ModelStore", "ModelRestore"):
            self._run_model_operation(plan, module)
        elif module == "Reader":
            table_ref = params.get("table") or {}
            table = self.store.get_table(table_ref.get("namespace", ""), table_ref.get("name", ""))
            if table is None:
                raise ComponentError(_error_report(
                    cpn, f"RuntimeError: can not found table name: {table_ref.get('name')} "
                         f"namespace: {table_ref.get('namespace')}"))
            self._output(job_id, cpn, role, party, "data", table)
            self.store.put_metric(job_id, cpn, role, party, "reader_namespace", "reader_name", [], {
                "anonymous_info": {}, "attribute_info": {}, "count": table["count"], "metric_type": "data_info",
                "name": "reader", "namespace": table["namespace"], "partitions": table["partition"],
                "storage_engine": "STANDALONE", "table_info": _table_info(table), "table_name": table["name"]})
        elif module == "Evaluation":
            src = self._input_table(plan, cpn, role, party)
            if src is None:
                return
            header, rows = read_table_rows(src)
            if "predict_score" not in header:
                return
            li, si = header.index("label"), header.index("predict_score")
            labels = [1 if str(r[li]).strip() in ("1", "1.0") else 0 for r in rows]
            scores = [float(r[si]) for r in rows]
            learner = self._upstream(plan, cpn) or cpn
            for seq, (name, data, meta) in enumerate(evaluation.binary_metrics(learner, labels, scores)):
                self.store.put_metric(job_id, cpn, role, party, "train", name, data, meta, seq)
        elif module == "SecureAddExample":
            return
        else:
            src = self._input_table(plan, cpn, role, party)
            model_params: dict[str, Any] = {}
            if module in PREDICT_MODULES:
                if role == "arbiter":
                    model_params = {"header": []}
                elif src is not None:
                    model_params = self._learn(plan, cpn, module, role, party, src, params)
            elif src is not None:
                self._output(job_id, cpn, role, party, "data", src)
                label = params.get("label_name", "y") if params.get("with_label") else None
                model_params = {"header": [c for c in src.get("columns", [])[1:] if c != label],
                                "labelName": label or ""}
            if module in MODEL_MODULES:
                plan.setdefault("models", {}).setdefault(f"{role}#{party}", {})[cpn] = _model_entry(
                    module, params, model_params)
                self._save(plan)

    @staticmethod
    def _label_of(header: list[str], params: dict[str, Any]) -> str | None:
        label = "y" if "y" in header[1:] else None
        for name in (params.get("label_name"), "label"):
            if name and name in header[1:]:
                label = name
        return label

    def _learn(self, plan: dict[str, Any], cpn: str, module: str, role: str, party: str,
               src: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        header, rows = read_table_rows(src)
        label = self._label_of(header, params)
        features = [c for c in header[1:] if c != label]
        fit = self._fit(plan, cpn, module, role, party)
        weights = {c: fit["weight"][c] for c in features if c in fit["weight"]}
        holds_intercept = role == "guest" or module.startswith("Homo")
        out = {"bestIteration": -1, "encryptedWeight": {}, "header": features,
               "intercept": fit["intercept"] if holds_intercept else 0.0, "isConverged": fit["converged"],
               "iters": fit["iters"], "lossHistory": fit["loss_history"] if holds_intercept else [],
               "needOneVsRest": False, "weight": weights}
        kind = "predict" if plan.get("kind") == "predict" else "train"
        if label is None and not (kind == "predict" and role == "guest"):
            return out  # a host holds no labels and writes no predictions
        # a batch prediction of unlabelled rows: the label column says None (federatedml keeps instance.label)
        scores = fit["scores"] if not module.startswith("Homo") else {}
        li = header.index(label) if label else None
        path = self.files / "tables" / f"{uuid.uuid4().hex}.csv"
        count = 0
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "label", "predict_result", "predict_score", "predict_detail", "type"])
            for r in rows:
                sc = scores.get(r[0])
                if sc is None:  # Homo learners (and rows the join dropped) score with this party's features
                    if not scores and fit["features"]:
                        pos = {c: j for j, c in enumerate(header)}
                        sc = evaluation.score(evaluation.to_features([r[pos[c]] if pos.get(c, 99999) < len(r)
                                                                      else "" for c in fit["features"]]),
                                              [fit["weight"][c] for c in fit["features"]], fit["intercept"])
                    else:
                        continue
                res = 1 if sc >= 0.5 else 0
                w.writerow([r[0], "None" if li is None else r[li], res, repr(sc), str({"0": 1 - sc, "1": sc}), kind])
                count += 1
        table = {"namespace": f"output_data_{plan['job_id']}_{cpn}_0", "name": uuid.uuid1().hex, "path": str(path),
                 "count": count, "partition": src.get("partition", 4), "head": 1, "delimiter": ",",
                 "columns": ["id", "label", "predict_result", "predict_score", "predict_detail", "type"],
                 "sid": "id", "origin": "output", "create_time": now_ms(), "job_id": plan["job_id"]}
        self.store.put_table(table)
        self._output(plan["job_id"], cpn, role, party, "data", table, register=False)
        return out

    def _fit(self, plan: dict[str, Any], cpn: str, module: str, role: str, party: str) -> dict[str, Any]:
        """The learner of ``cpn``, trained once per job on every party's input joined by id (a Hetero learner),
        or on this party's own rows (a Homo learner); in a predict job, the deployed model's weights."""
        key = (plan["job_id"], cpn, "" if not module.startswith("Homo") else f"{role}#{party}")
        cached = self._fits.get(key)
        if cached is not None:
            return cached
        tasks = [t for t in self.store.tasks(plan["job_id"], cpn) if t["f_role"] != "arbiter"]
        if module.startswith("Homo"):
            tasks = [t for t in tasks if t["f_role"] == role and t["f_party_id"] == party]
        init = next((t for t in tasks if t["f_role"] == "guest"), tasks[0] if tasks else None)
        params = (init or {}).get("f_component_parameters", {}).get("ComponentParam", {})
        # id -> feature values, per party; the label from the party that has one
        columns: list[str] = []
        per_party: list[dict[str, list[str]]] = []
        labels: dict[str, int] = {}
        for t in tasks:
            src = self._input_table(plan, cpn, t["f_role"], t["f_party_id"])
            if src is None:
                continue
            header, rows = read_table_rows(src)
            tparams = t["f_component_parameters"].get("ComponentParam", {})
            label = self._label_of(header, tparams)
            feats = [j for j, c in enumerate(header) if j > 0 and c != label and c not in columns]
            columns.extend(header[j] for j in feats)
            li = header.index(label) if label else None
            values: dict[str, list[str]] = {}
            for r in rows:
                values[r[0]] = [r[j] if j < len(r) else "" for j in feats]
                if li is not None and li < len(r):
                    labels.setdefault(r[0], 1 if str(r[li]).strip() in ("1", "1.0") else 0)
            per_party.append(values)
        ids = [i for i in (per_party[0] if per_party else {}) if all(i in v for v in per_party)]
        x = [evaluation.to_features([val for v in per_party for val in v[i]]) for i in ids]
        trained = self._trained_weights(plan, cpn, columns) if plan.get("kind") == "predict" else None
        if trained is None:
            labelled = [k for k, i in enumerate(ids) if i in labels]
            result = evaluation.fit_logistic([x[k] for k in labelled], [labels[ids[k]] for k in labelled], params)
        else:
            result = trained
        weights = dict(zip(columns, result["weights"]))
        fit = {"weight": weights, "intercept": result["intercept"], "iters": result["iters"],
               "converged": result["converged"], "loss_history": result["loss_history"], "features": columns,
               "scores": {i: evaluation.score(x[k], result["weights"], result["intercept"])
                          for k, i in enumerate(ids)}}
        self._fits[key] = fit
        return fit

    def _trained_weights(self, plan: dict[str, Any], cpn: str, columns: list[str]) -> dict[str, Any] | None:
        """A predict job's model: the weights the deployed training job learnt (None if they are not found)."""
        rows = self.store.job_rows(plan["job_id"])
        if not rows:
            return None
        common = rows[0]["f_runtime_conf"]["job_parameters"]["common"]
        weights: dict[str, float] = {}
        intercept = 0.0
        found = False
        for rec in self.store.models(str(common.get("model_id")), str(common.get("model_version"))):
            entry = (rec.get("_components") or {}).get(cpn) or {}
            param = entry.get("param") or {}
            if "weight" in param:
                found = True
                weights.update(param["weight"])
                intercept += float(param.get("intercept") or 0.0)
        if not found:
            return None
        return {"weights": [float(weights.get(c, 0.0)) for c in columns], "intercept": intercept,
                "iters": 0, "converged": False, "loss_history": []}

    def _upstream(self, plan: dict[str, Any], cpn: str) -> str | None:
        data = (plan["dsl"]["components"][cpn].get("input") or {}).get("data") or {}
        for refs in data.values():
            for ref in refs if isinstance(refs, list) else [refs]:
                return str(ref).split(".")[0]
        return None

    def _input_table(self, plan: dict[str, Any], cpn: str, role: str, party: str) -> dict[str, Any] | None:
        up = self._upstream(plan, cpn)
        if not up:
            return None
        outs = self.store.outputs(plan["job_id"], up, role, party)
        if not outs:
            return None
        return self.store.get_table(outs[0]["f_table_namespace"], outs[0]["f_table_name"])

    def _output(self, job_id: str, cpn: str, role: str, party: str, data_name: str, table: dict[str, Any],
                register: bool = True) -> None:
        """Record a component output table (a new table name that shares the input's rows)."""
        ms = now_ms()
        if register:
            table = dict(table, namespace=f"output_data_{job_id}_{cpn}_0", name=uuid.uuid1().hex,
                         origin="output", create_time=ms, job_id=job_id)
            self.store.put_table(table)
        self.store.put_output({
            "f_component_name": cpn, "f_create_date": fmt_date(ms), "f_create_time": ms, "f_data_name": data_name,
            "f_description": "", "f_job_id": job_id, "f_party_id": str(party), "f_role": role,
            "f_table_name": table["name"], "f_table_namespace": table["namespace"], "f_task_id": f"{job_id}_{cpn}",
            "f_task_version": 0, "f_update_date": fmt_date(ms), "f_update_time": ms})

    def _run_upload(self, plan: dict[str, Any]) -> None:
        up = plan["upload"]
        src = up["file"]
        if not os.path.isfile(src):
            raise ComponentError(_error_report("upload_0", f"FileNotFoundError: [Errno 2] No such file or directory: '{src}'"))
        delimiter = up.get("id_delimiter") or ","
        dest = self.files / "tables" / f"{uuid.uuid4().hex}.csv"
        if up.get("owned"):
            shutil.move(src, dest)
        else:
            shutil.copyfile(src, dest)
        count, first = up.get("count"), up.get("first_line")
        if count is None or first is None:
            count, first = count_lines(dest)
        head = int(up.get("head", 1))
        cols = first.rstrip("\r\n").split(delimiter) if first else []
        if not head:
            cols = ["id"] + [f"x{i}" for i in range(max(len(cols) - 1, 0))]
        table = {"namespace": up["namespace"], "name": up["table_name"], "path": str(dest),
                 "count": max(count - (1 if head else 0), 0), "partition": int(up.get("partition", 4)),
                 "head": head, "delimiter": delimiter, "columns": cols, "sid": cols[0] if cols else "id",
                 "origin": "upload", "create_time": now_ms(), "job_id": plan["job_id"],
                 "extend_sid": bool(int(up.get("extend_sid", 0) or 0))}
        self.store.put_table(table)

    def _run_download(self, plan: dict[str, Any]) -> None:
        dl = plan["download"]
        table = self.store.get_table(dl["namespace"], dl["table_name"])
        if table is None:
            raise ComponentError(_error_report(
                "download_0", f"Exception: table {dl['namespace']}.{dl['table_name']} not found"))
        out = Path(dl["output_path"])
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            header, rows = read_table_rows(table)
            delim = dl.get("delimiter") or ","
            with open(out, "w", encoding="utf-8") as fh:
                fh.write(delim.join(header) + "\n")
                for r in rows:
                    fh.write(delim.join(r) + "\n")
        except OSError as exc:
            raise ComponentError(_error_report("download_0", f"{type(exc).__name__}: {exc}")) from exc

    def _run_model_operation(self, plan: dict[str, Any], module: str) -> None:
        if not self.settings.get("model_store"):
            raise ComponentError(MODEL_STORE_ERROR)
        op = plan["model_op"]
        key = party_model_id(op["role"], op["party_id"], op["model_id"])
        safe = key.replace("#", "_")
        store_path = self.files / "model_store" / f"{safe}_{op['model_version']}.json"
        if module == "ModelStore":
            recs = self.store.models(op["model_id"], op["model_version"], op["role"], op["party_id"])
            if not recs:
                raise ComponentError(_error_report(plan["order"][0], f"ValueError: Model {key} {op['model_version']} does not exist."))
            store_path.write_text(json.dumps(recs[0]))
        else:
            if not store_path.exists():
                raise ComponentError(_error_report(plan["order"][0], f"ValueError: Model {key} {op['model_version']} not found in the model store."))
            self.store.put_model(json.loads(store_path.read_text()))

    def _on_success(self, plan: dict[str, Any]) -> None:
        """A finished training job leaves a parent model at every party."""
        if plan.get("kind") != "train":
            return
        from .models import build_model_records
        for rec in build_model_records(self.store, plan):
            self.store.put_model(rec)


def count_lines(path: str | Path) -> tuple[int, str]:
    """Number of lines in a file and its first line (streamed, constant memory)."""
    count, first, last = 0, "", b""
    with open(path, "rb") as fh:
        head = fh.readline()
        first = head.decode("utf-8", "replace")
        if head:
            count = 1
            last = head
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            count += chunk.count(b"\n")
            last = chunk
    if head and last and not last.endswith(b"\n"):
        count += 1 if last is not head else 0
    return count, first


def _table_info(table: dict[str, Any]) -> dict[str, str]:
    header, rows = read_table_rows(table, limit=5)
    info = {}
    for j, col in enumerate(header[1:], start=1):
        info[col] = ",".join(sorted({r[j] for r in rows if j < len(r)}) if col in ("y", "label") else
                             [r[j] for r in rows if j < len(r)])
    return info


def _model_entry(module: str, params: dict[str, Any], model_params: dict[str, Any]) -> dict[str, Any]:
    names = {"HeteroLR": "HeteroLogisticRegression", "HomoLR": "HomoLogisticRegression"}
    base = names.get(module, module)
    meta: dict[str, Any]
    if module in ("HeteroLR", "HomoLR"):
        meta = {"alpha": params.get("alpha", 1.0), "batchSize": str(params.get("batch_size", -1)),
                "earlyStop": params.get("early_stop", "diff"), "fitIntercept": True,
                "learningRate": params.get("learning_rate", 0.1), "maxIter": str(params.get("max_iter", 100)),
                "module": "", "needOneVsRest": False, "optimizer": params.get("optimizer", "rmsprop"),
                "partyWeight": 0.0, "penalty": params.get("penalty", "L2"), "reEncryptBatches": "0",
                "revealStrategy": "", "tol": params.get("tol", 0.0001)}
    elif module in ("DataTransform", "DataIO"):
        meta = {"inputFormat": params.get("input_format", "dense"), "delimitor": ",", "dataType": "float64",
                "tagValueDelimitor": ":", "withLabel": bool(params.get("with_label", False)),
                "labelName": params.get("label_name", "y"), "labelType": "int", "outputFormat":
                params.get("output_format", "dense"), "exclusiveDataType": {}}
        model_params = dict(model_params, imputerParam={"missingReplaceValue": {}, "missingValueRatio": {}},
                            outlierParam={"outlierReplaceValue": {}, "outlierValueRatio": {}})
    else:
        meta = {"module": module}
    return {"module": module, "name": base, "param": model_params, "meta": meta}


def _error_report(cpn: str, message: str) -> str:
    return ("Traceback (most recent call last):\n  File \"xxx/fate_flow/worker/task_executor.py\", line 210, in _run_\n"
            "    cpn_output = run_object.run(cpn_input)\n                 ^^^^^^^^^^^^^^^^^^^^^^^^^\n"
            "  File \"xxx/fate_flow/components/_base.py\", line 156, in run\n    self._run(cpn_input=cpn_input)\n"
            f"{message if ':' in message else 'Exception: ' + message}\n")


def csv_text(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    """Rows as delimited text (used by downloads)."""
    buf = io.StringIO()
    buf.write(delimiter.join(header) + "\n")
    for r in rows:
        buf.write(delimiter.join(r) + "\n")
    return buf.getvalue()


_ = copy  # keep import for readers extending plans
