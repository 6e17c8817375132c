"""Distributed deployment test: a production-shaped Airflow on loopback, under load, with faults.

Starts, all bound to 127.0.0.1 on free ports and each stopped by its PID (its own process group):
PostgreSQL (``initdb`` in a temporary directory, or an existing server given by ``--postgres-url``) as the
metadata database, Redis as the Celery broker, the sandbox FATE Flow (``--auth KEY:SECRET``, ``--pace``,
``--state-dir``), and Airflow's api-server, scheduler (CeleryExecutor), dag-processor, two triggerers and two
Celery workers. The connection ``fateflow_default`` (with the app key and secret) is created through the
REST API, in the metadata database.

Load: ``--waits`` FATE jobs submitted outside Airflow (with the client) and one run of
``fateflow_distributed_waits`` (one deferrable JobStatusSensor per job, a mapped task), and ``--runs``
concurrent runs of ``fateflow_distributed_train`` (upload, upload, deferrable training, AUC gate;
tests/dags/distributed_load.py).

Faults, each while work is in flight: ``kill -9`` of the Celery worker running a training task right after its
submit (FATE Flow answers ``job/query`` late meanwhile, so the task lingers between its submit and its deferral);
once half the sensors are deferred, ``kill -9`` of the triggerer holding the most deferred waits, the scheduler
restarted and PostgreSQL restarted (fast shutdown, then started again); once all are deferred, the sandbox
killed, down for ``--outage`` seconds and started again on the same state. The external jobs stay ``waiting`` in
FATE (the sandbox's hold) until that restart, so every fault meets deferred waits whatever the machine's speed.
The script is the deployment's supervisor: a component that exits on its own is started again, and counted in
the report.

Afterwards it asserts: every DAG run succeeded; the FATE jobs on the sandbox are exactly the logical submits
(one per upload, training and external job, none twice); the killed training task's retry ran on the other
worker and reattached (one FATE job for it); every deferred wait resumed its task exactly once; no log file, XCom or
rendered template field holds the connection's secret. It writes ``report.json`` and ``report.txt`` (runs,
jobs, faults with their time to recover, exits, peak memory per triggerer) and ``benchmarks.md`` to ``--report-dir``.

Usage: python scripts/deploy_distributed.py [--runs 20] [--waits 200] [--report-dir DIR] [--keep] ...
Exit code 0 when every check passed.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import Stack, free_port, http, wait_for  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLES = REPO / "dags" / "examples"
TRAIN_DAG = "fateflow_distributed_train"
WAITS_DAG = "fateflow_distributed_waits"
APP_KEY = "airflow-distributed"
GUEST, HOST = 9999, 10000
#: The component of the external jobs that the sandbox is told to run for ``--external-seconds``.
EXTERNAL_COMPONENT = "external_lr_0"
#: Stopped before the checks, so that every log (the triggerers' per-trigger logs too) is complete.
AIRFLOW_COMPONENTS = ["api-server", "scheduler", "dag-processor", "worker-1", "worker-2", "triggerer-1", "triggerer-2"]


def log(msg: str) -> None:
    """One progress line, with the time."""
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# -- PostgreSQL and Redis -------------------------------------------------------------------------------------
def pg_bindir() -> Path:
    """Directory of Debian's PostgreSQL server binaries (the newest installed major version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    postgres = shutil.which("postgres")
    if postgres:
        return Path(postgres).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: run scripts/install_services.sh (make test-deploy-distributed "
                       "does)")


def pg_connect(url: str, timeout: float = 5) -> Any:
    """A psycopg (3) connection in autocommit mode."""
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))


def sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    """Rows of one query (a fresh connection: the database may have restarted since the last one)."""
    with pg_connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


class Postgres:
    """The metadata database: our own server (initdb in ``home``) or an existing one (``url``).

    :param stack: the stack our server runs in (as the ``postgres`` component).
    :param url: an existing server's URL (a fresh database is created in it and dropped afterwards).
    """

    def __init__(self, stack: Stack, home: Path, url: str | None) -> None:
        self.stack = stack
        self.external = url
        self.db = "airflow"
        self.user = "airflow"
        if url:
            self.db = f"airflow_distributed_{secrets.token_hex(4)}"
            self.admin_url = url
        else:
            self.port = free_port()
            self.data = home / "pgdata"
            self.sockets = home / "pgsock"
            self.admin_url = f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        """libpq URL of the Airflow database."""
        if self.external:
            base, _, _ = self.external.rpartition("/")
            return f"{base}/{self.db}"
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.db}"

    def start(self) -> None:
        """initdb and start our server, or check the existing one; create the Airflow database."""
        if self.external:
            sql(self.admin_url, "SELECT 1")
            log(f"reusing PostgreSQL at {self.external.split('@')[-1]}; database {self.db}")
        else:
            bindir = pg_bindir()
            owner = "postgres" if os.geteuid() == 0 else None
            for d in (self.data, self.sockets):
                d.mkdir(mode=0o700)
                if owner:
                    pw = pwd.getpwnam(owner)
                    os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(self.data.parent, 0o755)
            cmd = [str(bindir / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                   "--no-sync", "--no-instructions"]
            kwargs: dict[str, Any] = {"user": owner, "group": owner, "extra_groups": []} if owner else {}
            subprocess.run(cmd, check=True, capture_output=True, cwd=self.data.parent, **kwargs)
            self.cmd = [str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                        "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.sockets}",
                        "-c", "max_connections=400", "-c", "fsync=off", "-c", "synchronous_commit=off",
                        "-c", "full_page_writes=off", "-c", "shared_buffers=128MB"]
            self.stack.start("postgres", *self.cmd, user=owner, stop_signal=signal.SIGINT)
            wait_for("PostgreSQL to accept connections", lambda: sql(self.admin_url, "SELECT 1"), 120, self.stack,
                     interval=0.5, errors=(Exception,))
            log(f"PostgreSQL {bindir.parts[-2]} on 127.0.0.1:{self.port} (data in {self.data})")
        sql(self.admin_url, f'CREATE DATABASE "{self.db}"')

    def restart(self) -> float:
        """Fast shutdown (as ``pg_ctl restart -m fast``) and start again; seconds it was down."""
        down = time.time()
        self.stack.signal("postgres", signal.SIGINT, wait=120)
        self.stack.restart("postgres")
        wait_for("PostgreSQL to accept connections again", lambda: sql(self.url, "SELECT 1"), 120, self.stack,
                 interval=0.2, errors=(Exception,))
        return time.time() - down

    def drop(self) -> None:
        """Drop the database we created in an existing server."""
        if self.external:
            try:
                sql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except Exception as err:  # noqa: BLE001 - best effort at cleanup
                log(f"could not drop database {self.db}: {err}")


def redis_ping(port: int) -> bool:
    """Whether Redis answers PING on 127.0.0.1:``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


# -- process tree helpers -------------------------------------------------------------------------------------
def tree(pid: int) -> list[Any]:
    """The process ``pid`` and its descendants (psutil processes; [] when it is gone)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, in bytes."""
    import psutil

    total = 0
    for proc in tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def runs_ti(pid: int, ti_id: str) -> bool:
    """Whether a process under ``pid`` runs task instance ``ti_id`` (the task runner's title names it)."""
    import psutil

    for proc in tree(pid):
        try:
            if ti_id in " ".join(proc.cmdline()):
                return True
        except psutil.Error:
            pass
    return False


class MemorySampler(threading.Thread):
    """Peak resident memory (process and descendants) of some components, sampled every ``interval`` s."""

    def __init__(self, stack: Stack, names: list[str], interval: float = 2.0) -> None:
        super().__init__(daemon=True, name="memory-sampler")
        self.stack, self.names, self.interval = stack, names, interval
        self.peak: dict[str, int] = {n: 0 for n in names}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            for name in self.names:
                if self.stack.alive(name):
                    self.peak[name] = max(self.peak[name], tree_rss(self.stack.pid(name)))


# -- FATE jobs outside Airflow --------------------------------------------------------------------------------
def external_job(index: int, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Conf and DSL of one external training job (the example's, its LR component renamed)."""
    conf_text = (EXAMPLES / "conf" / "hetero_lr_conf.json").read_text()
    dsl_text = (EXAMPLES / "conf" / "hetero_lr_dsl.json").read_text()
    conf_text = (conf_text.replace("{{ params.namespace }}", namespace)
                 .replace("{{ params.guest_table }}", "external_guest")
                 .replace("{{ params.host_table }}", "external_host")
                 .replace("hetero_lr_0", EXTERNAL_COMPONENT))
    conf = json.loads(conf_text)
    conf["airflow"] = {"description": f"external job {index}"}
    dsl = json.loads(dsl_text.replace("hetero_lr_0", EXTERNAL_COMPONENT))
    return conf, dsl


def job_table(record: Any) -> str | None:
    """``namespace.name`` of the table an upload job wrote (None for other jobs)."""
    conf = record.runtime_conf or {}
    params = (conf.get("component_parameters") or {}).get("role", {}).get("local", {}).get("0", {})
    upload = params.get("upload_0")
    return f"{upload.get('namespace')}.{upload.get('name')}" if isinstance(upload, dict) else None


def job_marker(record: Any) -> str | None:
    """The provider's submit marker in a job's conf (None for a job not submitted by an operator)."""
    tag = (record.runtime_conf or {}).get("airflow")
    return tag.get("marker") if isinstance(tag, dict) else None


# -- the test -----------------------------------------------------------------------------------------------------
class Deployment:
    """The whole run: start, load, faults, checks and the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.home = Path(tempfile.mkdtemp(prefix="fateflow-distributed-"))
        os.chmod(self.home, 0o755)
        self.secret = secrets.token_hex(16)
        self.stack = Stack(self.home, dict(os.environ), supervise=True)
        self.pg = Postgres(self.stack, self.home, args.postgres_url)
        self.redis_port, self.flow_port, self.api_port = free_port(), free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.token = ""
        self.faults: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.checks: dict[str, Any] = {}
        self.triggerer_jobs: dict[int, str] = {}  # TriggererJob id -> component name
        self.t0 = time.time()
        self.phases: dict[str, float] = {}
        self.sampler = MemorySampler(self.stack, ["triggerer-1", "triggerer-2", "worker-1", "worker-2", "scheduler",
                                                  "api-server"])

    # -- helpers ----------------------------------------------------------------------------------------------
    def fail(self, msg: str) -> None:
        log(f"CHECK FAILED: {msg}")
        self.failures.append(msg)

    def phase(self, name: str) -> None:
        self.phases[name] = round(time.time() - self.t0, 1)
        log(f"== {name} (t+{self.phases[name]:.0f} s)")

    def rest(self, method: str, path: str, body: dict | None = None) -> dict:
        return http(method, f"{self.api}{path}", body, token=self.token, timeout=60)

    def q(self, query: str, params: tuple = ()) -> list[tuple]:
        return sql(self.pg.url, query, params)

    def wait(self, what: str, check: Any, timeout: float, interval: float = 2.0) -> Any:
        return wait_for(what, check, timeout, self.stack, interval=interval, errors=(Exception,))

    def client(self) -> Any:
        from airflow_provider_fateflow.client import ClientConfig, FateFlowClient

        return FateFlowClient(ClientConfig("127.0.0.1", self.flow_port, app_key=APP_KEY, secret_key=self.secret,
                                           initiator_role="guest", initiator_party_id=GUEST))

    def sandbox_cmd(self) -> list[str]:
        return [str(BIN / "fateflow-sandbox"), "--host", "127.0.0.1", "--port", str(self.flow_port),
                "--pace", str(self.args.pace), "--state-dir", str(self.home / "sandbox"),
                "--auth", f"{APP_KEY}:{self.secret}"]

    def hold(self, on: bool) -> None:
        """Keep every newly submitted FATE job waiting (``on``) or let them run."""
        http("POST", f"http://127.0.0.1:{self.flow_port}/_sandbox/hold", {"hold": on})

    def sandbox_up(self) -> bool:
        return bool(http("GET", f"http://127.0.0.1:{self.flow_port}/_sandbox/health", timeout=5).get("ok"))

    def ti_states(self, dag_id: str, task_id: str | None = None) -> list[tuple]:
        """(run_id, task_id, map_index, state, try_number, id, end_date) of a DAG's task instances."""
        query = ("SELECT run_id, task_id, map_index, state, try_number, id::text, end_date FROM task_instance "
                 "WHERE dag_id = %s" + (" AND task_id = %s" if task_id else ""))
        return self.q(query, (dag_id, task_id) if task_id else (dag_id,))

    def count_deferred(self) -> dict[str, int]:
        rows = self.q("SELECT dag_id, count(*) FROM task_instance WHERE state = 'deferred' GROUP BY dag_id")
        return {dag: n for dag, n in rows}

    def map_triggerer(self, name: str, started: float) -> None:
        """Learn the TriggererJob id of ``name`` (started at ``started``): the first new running row."""
        def new_job() -> int | None:
            rows = self.q("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' "
                          "AND start_date >= to_timestamp(%s) ORDER BY id", (started - 1,))
            fresh = [r[0] for r in rows if r[0] not in self.triggerer_jobs]
            return fresh[0] if fresh else None

        job_id = self.wait(f"{name} to register", new_job, 240, interval=1)
        self.triggerer_jobs[job_id] = name
        log(f"{name} is TriggererJob {job_id}")

    def start_triggerer(self, name: str) -> None:
        started = time.time()
        if name in self.stack.specs:
            self.stack.restart(name)
        else:
            self.stack.start(name, str(BIN / "airflow"), "triggerer", "--skip-serve-logs")
        self.map_triggerer(name, started)

    # -- start ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        a = self.args
        self.phase("start PostgreSQL, Redis and the sandbox")
        self.pg.start()
        (self.home / "redis").mkdir()
        self.stack.start("redis", shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port),
                         "--bind", "127.0.0.1", "--dir", str(self.home / "redis"), "--save", "", "--appendonly", "no",
                         "--protected-mode", "yes")
        self.stack.start("sandbox", *self.sandbox_cmd())
        self.wait("Redis", lambda: redis_ping(self.redis_port), 60, interval=0.5)
        self.wait("the sandbox", self.sandbox_up, 120, interval=0.5)
        dags = self.home / "dags"
        dags.mkdir()
        (dags / "distributed_load.py").symlink_to(REPO / "tests" / "dags" / "distributed_load.py")
        db = self.pg.url.replace("postgresql://", "postgresql+psycopg2://", 1)
        self.stack.env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.pg.url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(a.concurrency),
            "AIRFLOW__CORE__PARALLELISM": str(2 * a.concurrency + 8),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(2 * a.concurrency + 8),
            "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": str(a.runs + 4),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__API__WORKERS": "2",
            "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # a killed worker's task is noticed after this long without a heartbeat (default 300 s)
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(a.heartbeat_timeout),
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            # tasks a scheduler queued just before it died wait for this check to be adopted (default 300 s)
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": str(a.orphan_check),
        })
        self.phase("airflow db migrate")
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=self.stack.env, check=True, capture_output=True,
                       timeout=900)
        self.phase("start Airflow")
        airflow = str(BIN / "airflow")
        self.stack.start("api-server", airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.api_port))
        self.stack.start("scheduler", airflow, "scheduler", "--skip-serve-logs")
        self.stack.start("dag-processor", airflow, "dag-processor")
        for i in (1, 2):
            self.stack.start(f"worker-{i}", airflow, "celery", "worker", "--skip-serve-logs",
                             "--celery-hostname", f"worker{i}@%h", "--concurrency", str(a.concurrency),
                             "--pid", str(self.home / f"worker-{i}.pid"),
                             "--without-mingle", "--without-gossip")
        self.start_triggerer("triggerer-1")
        self.start_triggerer("triggerer-2")
        self.sampler.start()

        def healthy() -> bool:
            health = http("GET", f"{self.api}/api/v2/monitor/health")
            states = {k: (v or {}).get("status") for k, v in health.items()}
            return all(states.get(k) == "healthy" for k in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

        self.healthy = healthy
        self.wait("all components healthy", healthy, 300)
        for i in (1, 2):
            self.wait(f"worker-{i} ready", lambda i=i: " ready." in self.stack.log(f"worker-{i}"), 300)
        self.token = http("GET", f"{self.api}/auth/token")["access_token"]
        self.rest("POST", "/api/v2/connections", {
            "connection_id": "fateflow_default", "conn_type": "fateflow", "host": "127.0.0.1",
            "port": self.flow_port, "login": APP_KEY, "password": self.secret,
            "extra": json.dumps({"initiator_role": "guest", "initiator_party_id": GUEST,
                                 "board_url": "http://127.0.0.1:8080"}),
        })
        for dag_id in (TRAIN_DAG, WAITS_DAG):
            self.wait(f"DAG {dag_id} to be parsed", lambda d=dag_id: self.rest("GET", f"/api/v2/dags/{d}")["dag_id"],
                      300)

    # -- load -------------------------------------------------------------------------------------------------
    def submit_external(self) -> list[str]:
        """Upload the external jobs' tables and submit ``--waits`` jobs with the client, outside Airflow."""
        a = self.args
        client = self.client()
        for name, file in (("external_guest", "guest.csv"), ("external_host", "host.csv")):
            up = client.data.upload({"file": str(EXAMPLES / "data" / file), "namespace": "distributed",
                                     "table_name": name, "head": 1, "partition": 4}, drop=True)
            self.wait(f"upload of {name}", lambda j=up.job_id: client.job.query(job_id=j)[0].status.value == "success",
                      120, interval=0.5)
        self.external_seconds = a.external_seconds
        behave = f"http://127.0.0.1:{self.flow_port}/_sandbox/behave"
        http("POST", behave, {"component": EXTERNAL_COMPONENT, "seconds": self.external_seconds, "jobs": a.waits})
        self.hold(True)  # the external jobs wait (FATE status "waiting") until the faults are over
        ids = []
        for i in range(a.waits):
            conf, dsl = external_job(i, "distributed")
            ids.append(client.job.submit(conf, dsl).job_id)
        self.external_submitted = time.time()
        log(f"submitted {len(ids)} FATE jobs outside Airflow (held: waiting until the sandbox restarts)")
        return ids

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> None:
        self.rest("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf})

    # -- faults -----------------------------------------------------------------------------------------------
    def fault_worker_kill(self) -> None:
        """kill -9 the worker running a training task right after its submit; its retry must reattach.

        FATE Flow answers ``job/query`` slowly (``--query-latency``) while the test looks for its victim, so that a
        training task lingers between its submit and its deferral (it queries the job once before deferring). The
        killed worker stays down until the task's retry runs (so it runs on the other worker); a thread waits for
        that, starts the worker again and records the recovery, while the test goes on. When the task had already
        deferred (it outran the kill), the worker is started again and another training task is the victim.
        """
        client = self.client()
        tried: list[dict[str, Any]] = []
        victim = None
        deadline = time.time() + 900
        self.set_query_latency(self.args.query_latency)
        try:
            while victim is None and time.time() < deadline and len(tried) < 5:
                found = self._find_submitting_train(client, deadline, {t["run_id"] for t in tried})
                if found is None:
                    break
                run_id, ti_id, job_id, worker, created_ms = found
                in_flight = self.count_deferred()
                killed = time.time()
                self.stack.signal(worker, signal.SIGKILL, wait=30)
                after = round(killed - created_ms / 1000, 1) if created_ms else None
                log(f"kill -9 {worker}: it ran train of {run_id}, {after} s after it submitted FATE job {job_id}")
                attempt = {"run_id": run_id, "ti_id": ti_id, "job_id": job_id, "killed": worker,
                           "killed_after_submit_s": after, "at": killed, "in_flight": in_flight}
                tried.append(attempt)
                if self._outran_kill(run_id):
                    log(f"train of {run_id} had already deferred: starting {worker} again, trying another task")
                    attempt["outran_the_kill"] = True
                    self.stack.restart(worker)
                    continue
                victim = attempt
        finally:
            self.set_query_latency(0)
        if victim is None:
            self.fail(f"worker kill: no training task killed between its submit and its deferral (tried {tried})")
            return
        run_id, worker, killed = victim["run_id"], victim["killed"], victim["at"]
        other = "worker-2" if worker == "worker-1" else "worker-1"
        self.worker_victim = {k: victim[k] for k in ("run_id", "ti_id", "job_id", "killed")} | {"retry_on": other}
        fault = {"fault": f"kill -9 {worker} right after a SubmitJobOperator submit",
                 "at_s": round(killed - self.t0, 1),
                 "recovered_when": "the task's retry runs on the other worker",
                 "detail": {"run_id": run_id, "fate_job": victim["job_id"],
                            "killed_after_submit_s": victim["killed_after_submit_s"], "tries": len(tried)},
                 "in_flight": victim["in_flight"]}
        self.faults.append(fault)

        def watch() -> None:
            while time.time() < killed + 1200:
                try:
                    rows = self.q("SELECT state, try_number FROM task_instance WHERE dag_id=%s AND task_id='train' "
                                  "AND run_id=%s", (TRAIN_DAG, run_id))
                    if rows and rows[0][1] >= 2 and rows[0][0] in ("running", "deferred", "success"):
                        fault["recover_s"] = round(time.time() - killed, 1)
                        log(f"the retry of train/{run_id} runs ({fault['recover_s']:.0f} s after the kill); "
                            f"starting {worker} again")
                        break
                    if rows and rows[0][1] == 1 and rows[0][0] in ("deferred", "success"):
                        fault["outran_the_kill"] = True  # its deferral reached the API server after all
                        log(f"train of {run_id} deferred before the kill after all: the fault did not happen")
                        break
                except Exception:  # noqa: BLE001 - the database may be restarting
                    pass
                time.sleep(1)
            self.stack.restart(worker)

        self.worker_watch = threading.Thread(target=watch, name="worker-kill-watch", daemon=True)
        self.worker_watch.start()

    def set_query_latency(self, seconds: float) -> None:
        """Make the sandbox answer ``job/query`` ``seconds`` late (0: clear it)."""
        if seconds:
            http("POST", f"http://127.0.0.1:{self.flow_port}/_sandbox/faults",
                 {"route": "job/query", "latency": seconds})
        else:
            http("DELETE", f"http://127.0.0.1:{self.flow_port}/_sandbox/faults")

    def _find_submitting_train(self, client: Any, deadline: float, skip: set[str]) -> tuple | None:
        """A training task (first try) that has submitted its FATE job and still runs on a worker."""
        while time.time() < deadline:
            self.stack.check_alive()
            running = [r for r in self.ti_states(TRAIN_DAG, "train")
                       if r[3] == "running" and r[4] == 1 and r[0] not in skip]
            if running:
                recent = client.job.list(limit=max(20, self.args.runs), role="guest", party_id=GUEST).jobs
                markers = {job_marker(j): j for j in recent}
                for run_id, _, _, _, _, ti_id, _ in running:
                    record = next((j for m, j in markers.items() if m and f"/train/{run_id}/" in m), None)
                    if record is None:
                        continue
                    worker = next((w for w in ("worker-1", "worker-2") if self.stack.alive(w)
                                   and runs_ti(self.stack.pid(w), ti_id)), None)
                    if worker:
                        return run_id, ti_id, record.job_id, worker, record.create_time
            time.sleep(0.2)
        return None

    def _outran_kill(self, run_id: str) -> bool:
        """Whether the killed task had handed its wait to a triggerer already (deferred before it died).

        Its last call to the API server may still be in flight when the worker dies: watch its state for a while.
        """
        until = time.time() + 15
        while time.time() < until:
            rows = self.q("SELECT state, try_number FROM task_instance WHERE dag_id=%s AND task_id='train' AND "
                          "run_id=%s", (TRAIN_DAG, run_id))
            if rows and rows[0][1] == 1 and rows[0][0] in ("deferred", "success"):
                return True
            time.sleep(1)
        return False

    def wait_training_submitted(self) -> None:
        """Until every training run has submitted its uploads and its training job (FATE Flow holds them)."""
        client = self.client()
        want = {f"train_{i:02d}" for i in range(self.args.runs)}

        def submitted() -> bool:
            jobs = client.job.list(limit=0).jobs
            trains = {m.split("/")[2] for m in (job_marker(j) for j in jobs) if m and "/train/" in m}
            tables = {job_table(j) for j in jobs}
            return want <= trains and all(f"distributed.guest_{r}" in tables and f"distributed.host_{r}" in tables
                                          for r in want)

        self.wait("every training run to submit its jobs", submitted, 1200, interval=2)

    def fault_triggerer_kill(self) -> None:
        """kill -9 the triggerer holding the most deferred waits; the other must take them over."""
        rows = self.q("SELECT triggerer_id, count(*) FROM trigger WHERE triggerer_id IS NOT NULL GROUP BY 1")
        held = {self.triggerer_jobs.get(tid, f"job {tid}"): (tid, n) for tid, n in rows}
        name, (job_id, count) = max(held.items(), key=lambda kv: kv[1][1])
        in_flight = self.count_deferred()
        killed = time.time()
        self.stack.signal(name, signal.SIGKILL, wait=30)
        log(f"kill -9 {name} (TriggererJob {job_id}) holding {count} of {sum(n for _, n in held.values())} triggers")

        def taken_over() -> bool:
            left = self.q("SELECT count(*) FROM trigger WHERE triggerer_id = %s OR triggerer_id IS NULL", (job_id,))
            return left[0][0] == 0

        self.wait("the other triggerer to take the triggers over", taken_over, 600, interval=1)
        recovered = time.time() - killed
        log(f"the surviving triggerer holds every trigger {recovered:.0f} s after the kill; restarting {name}")
        self.start_triggerer(name)
        self.faults.append({"fault": f"kill -9 {name} (held {count} triggers)", "at_s": killed - self.t0,
                            "recover_s": round(recovered, 1),
                            "recovered_when": "no trigger is left on the killed triggerer (all reassigned)",
                            "in_flight": in_flight, "held": {k: v[1] for k, v in held.items()}})

    def fault_scheduler_restart(self) -> None:
        in_flight = self.count_deferred()
        stopped = time.time()
        self.stack.signal("scheduler", signal.SIGTERM, wait=120)
        self.stack.restart("scheduler")

        def scheduling() -> bool:
            rows = self.q("SELECT count(*) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running' AND "
                          "latest_heartbeat > to_timestamp(%s)", (stopped,))
            return rows[0][0] > 0 and self.healthy()

        self.wait("the scheduler to be back", scheduling, 600, interval=1)
        recovered = time.time() - stopped
        log(f"scheduler back {recovered:.0f} s after the restart began")
        self.faults.append({"fault": "scheduler restarted (SIGTERM, then started again)", "at_s": stopped - self.t0,
                            "recover_s": round(recovered, 1), "recovered_when": "a new scheduler heartbeats",
                            "in_flight": in_flight})

    def fault_sandbox_outage(self) -> None:
        in_flight = self.count_deferred()
        killed = time.time()
        self.stack.signal("sandbox", signal.SIGKILL, wait=30)
        log(f"sandbox killed (kill -9); down for {self.args.outage:.0f} s")
        time.sleep(self.args.outage)  # the outage itself
        offset = len(self.stack.log("sandbox"))
        self.stack.restart("sandbox")
        self.wait("the sandbox", self.sandbox_up, 120, interval=0.2)
        back = time.time()
        self.hold(False)  # a restarted sandbox holds nothing: the external jobs run now

        def polled_again() -> bool:
            tail = self.stack.log("sandbox")[offset:]
            return "/v1/job/query" in tail

        self.wait("a wait to query the sandbox again", polled_again, 300, interval=0.5)
        recovered = time.time() - back
        self.sandbox_back = back
        log(f"sandbox back on its state; the first wait queried it {recovered:.0f} s later")
        self.faults.append({"fault": f"sandbox killed, down {self.args.outage:.0f} s, started on the same state",
                            "at_s": killed - self.t0, "down_s": round(back - killed, 1),
                            "recover_s": round(recovered, 1),
                            "recovered_when": "a deferred wait queries FATE Flow again (after it answers)",
                            "in_flight": in_flight})

    def fault_postgres_restart(self) -> None:
        if self.pg.external:
            self.faults.append({"fault": "PostgreSQL restart", "skipped": "an existing server (--postgres-url)"})
            return
        in_flight = self.count_deferred()
        if not in_flight:
            self.fail("PostgreSQL restart: no deferred wait in flight")
        before = {k: len(v) for k, v in self.stack.restarts.items()}
        at = time.time()
        down = self.pg.restart()
        log(f"PostgreSQL restarted ({down:.1f} s without it)")

        def all_back() -> bool:
            rows = self.q("SELECT job_type, count(*) FROM job WHERE state = 'running' AND latest_heartbeat > "
                          "to_timestamp(%s) GROUP BY 1", (at + down,))
            kinds = {k: n for k, n in rows}
            return kinds.get("SchedulerJob", 0) >= 1 and kinds.get("TriggererJob", 0) >= 2 and self.healthy()

        self.wait("every component to be back after the PostgreSQL restart", all_back, 600, interval=1)
        recovered = time.time() - at
        exits = {k: len(v) - before.get(k, 0) for k, v in self.stack.restarts.items() if len(v) > before.get(k, 0)}
        for name in [n for n in exits if n.startswith("triggerer")]:
            self.map_triggerer(name, self.stack.restarts[name][-1]["at"])
        log(f"every component heartbeats {recovered:.0f} s after the restart; exited and restarted: {exits or 'none'}")
        self.faults.append({"fault": "PostgreSQL restarted (fast shutdown, started again)", "at_s": at - self.t0,
                            "down_s": round(down, 1), "recover_s": round(recovered, 1),
                            "recovered_when": "scheduler and both triggerers heartbeat, /monitor/health all healthy",
                            "in_flight": in_flight, "exited_and_restarted": exits})

    # -- checks -----------------------------------------------------------------------------------------------
    def wait_all_runs(self, timeout: float) -> dict[str, str]:
        def done() -> dict[str, str] | None:
            rows = self.q("SELECT dag_id || '/' || run_id, state FROM dag_run WHERE dag_id IN (%s, %s)",
                          (TRAIN_DAG, WAITS_DAG))
            states = {k: s for k, s in rows}
            return states if len(states) == self.args.runs + 1 and all(
                s in ("success", "failed") for s in states.values()) else None

        return self.wait("every DAG run to finish", done, timeout, interval=3)

    def check(self, run_states: dict[str, str], external_ids: list[str]) -> None:
        a = self.args
        failed = {k: s for k, s in run_states.items() if s != "success"}
        self.checks["runs"] = {"total": len(run_states), "success": len(run_states) - len(failed), "failed": failed}
        if failed:
            self.fail(f"DAG runs not successful: {failed}")
            for row in self.q("SELECT dag_id, run_id, task_id, map_index, state, try_number FROM task_instance "
                              "WHERE state IS DISTINCT FROM 'success' AND dag_id IN (%s, %s)", (TRAIN_DAG, WAITS_DAG)):
                log(f"  not successful: {row}")

        # FATE jobs: exactly the logical submits, none twice
        client = self.client()
        rows = client.job.list(limit=0).jobs
        jobs: dict[str, Any] = {}
        for r in rows:  # one row per (job, role, party): deduplicate by job id
            jobs.setdefault(r.job_id, r)
        all_ids = int(http("GET", f"http://127.0.0.1:{self.flow_port}/_sandbox/jobs_count")["count"])
        trains: dict[str, list[str]] = {}
        uploads: dict[str, list[str]] = {}
        other = []
        for job_id, r in jobs.items():
            marker, table = job_marker(r), job_table(r)
            if marker and "/train/" in marker:
                trains.setdefault(marker.split("/")[2], []).append(job_id)
            elif table:
                uploads.setdefault(table, []).append(job_id)
            elif job_id not in external_ids:
                other.append(job_id)
        run_ids = [f"train_{i:02d}" for i in range(a.runs)]
        expected = {f"distributed.guest_{r}" for r in run_ids} | {f"distributed.host_{r}" for r in run_ids} | {
            "distributed.external_guest", "distributed.external_host"}
        dup_trains = {k: v for k, v in trains.items() if len(v) != 1}
        dup_uploads = {k: v for k, v in uploads.items() if len(v) != 1}
        logical = a.waits + 2 + 3 * a.runs
        self.checks["fate_jobs"] = {
            "logical_submits": logical, "distinct_jobs": len(jobs), "all_jobs_incl_failed_submits": all_ids,
            "training_jobs": sum(len(v) for v in trains.values()), "upload_jobs": sum(len(v) for v in uploads.values()),
            "external_jobs": sum(1 for j in external_ids if j in jobs), "unexpected": other,
            "runs_with_other_than_one_training_job": dup_trains, "tables_with_other_than_one_upload": dup_uploads,
        }
        if len(jobs) != logical or all_ids != logical:
            self.fail(f"{len(jobs)} FATE jobs listed ({all_ids} incl. failed submits) for {logical} logical submits")
        if dup_trains or set(trains) != set(run_ids):
            self.fail(f"training jobs per run: {dup_trains or sorted(set(run_ids) ^ set(trains))}")
        if dup_uploads or set(uploads) != expected:
            self.fail(f"upload jobs per table: {dup_uploads or sorted(expected ^ set(uploads))}")
        if other:
            self.fail(f"FATE jobs nobody submitted: {other}")

        # the killed worker's task: retried (on the other worker) and reattached to its job
        victim = getattr(self, "worker_victim", None)
        for fault in self.faults:
            if fault.get("outran_the_kill"):
                self.fail(f"{fault['fault']}: the task had deferred before the kill (a test race, not the provider)")
            elif "recover_s" not in fault and not fault.get("skipped"):
                self.fail(f"not recovered: {fault['fault']}")
        if victim:
            rows = self.q("SELECT state, try_number FROM task_instance WHERE dag_id=%s AND task_id='train' AND "
                          "run_id=%s", (TRAIN_DAG, victim["run_id"]))
            jobs_for_task = trains.get(victim["run_id"], [])
            logs = sorted((self.home / "logs").glob(f"dag_id={TRAIN_DAG}/run_id={victim['run_id']}/task_id=train/"
                                                    "attempt=2*.log"))
            text = "\n".join(p.read_text(errors="replace") for p in logs)
            reattached = victim["job_id"] in text and "Submitted FATE job" not in text
            victim.update({"final_state": rows[0][0] if rows else None, "tries": rows[0][1] if rows else None,
                           "fate_jobs_for_task": jobs_for_task, "retry_reattached": reattached})
            self.checks["killed_worker_task"] = victim
            if jobs_for_task != [victim["job_id"]]:
                self.fail(f"killed task train/{victim['run_id']}: FATE jobs {jobs_for_task}, want [{victim['job_id']}]")
            if not reattached:
                self.fail(f"killed task train/{victim['run_id']}: its retry did not reattach to {victim['job_id']}")

        # every deferred wait resumed its task exactly once. A trigger may fire more than once when the triggerer
        # that fired it died before the event was stored (it runs again in the other triggerer): Airflow's
        # at-least-once triggers; counted, not a failure, as long as the task resumed once.
        logs_dir = self.home / "logs"
        fired: dict[str, int] = {}
        for path in logs_dir.glob("dag_id=*/run_id=*/task_id=*/**/*.log.trigger.*.log"):
            key = str(path.relative_to(logs_dir)).split(".log.trigger.")[0]
            fired[key] = fired.get(key, 0) + path.read_text(errors="replace").count("Trigger fired event")
        resumed: dict[str, int] = {}
        for key in fired:
            attempt_log = logs_dir / f"{key}.log"
            text = attempt_log.read_text(errors="replace") if attempt_log.exists() else ""
            resumed[key] = max(0, text.count("::group::Pre Execute") - 1)  # the first execution deferred
        waits = [k for k in fired if f"dag_id={WAITS_DAG}" in k]
        trains_fired = [k for k in fired if f"dag_id={TRAIN_DAG}" in k]
        not_once = {k: n for k, n in resumed.items() if n != 1}
        refired = {k: n for k, n in fired.items() if n > 1}
        never = [k for k, n in fired.items() if n == 0]
        errors: dict[str, list[str]] = {}
        for path in logs_dir.glob("dag_id=*/run_id=*/task_id=*/**/*.log.trigger.*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if "Trigger fired event" in line and "'status': 'error'" in line:
                    key = str(path.relative_to(logs_dir))
                    errors.setdefault(key, []).append(json.loads(line).get("result", "")[:300])
        sensor_tis = [r for r in self.ti_states(WAITS_DAG, "wait")]
        back = getattr(self, "sandbox_back", None)
        ends = [r[6].timestamp() for r in sensor_tis if r[6] is not None]
        for fault in self.faults:
            if back and ends and fault["fault"].startswith("sandbox"):
                fault["all_sensors_done_after_s"] = round(max(ends) - back, 1)
                fault["external_jobs_ran_s"] = round(3 * a.pace + a.external_seconds, 1)
        self.checks["deferred_waits"] = {
            "sensor_tasks": len(sensor_tis), "sensors_succeeded": sum(1 for r in sensor_tis if r[3] == "success"),
            "sensor_tries": sorted({r[4] for r in sensor_tis}),
            "wait_attempts_deferred": len(waits), "training_attempts_deferred": len(trains_fired),
            "attempts_resumed_other_than_once": not_once, "attempts_whose_trigger_never_fired": never,
            "triggers_fired_again_after_a_triggerer_died": refired,
            "trigger_error_events": errors,
        }
        if len(sensor_tis) != a.waits or any(r[3] != "success" for r in sensor_tis):
            self.fail(f"sensors: {len(sensor_tis)} mapped, states {sorted({str(r[3]) for r in sensor_tis})}")
        if len(waits) < a.waits:
            self.fail(f"only {len(waits)} sensor attempts deferred to a triggerer (want {a.waits})")
        if not_once:
            self.fail(f"deferred waits that did not resume their task exactly once: {not_once}")
        if errors:
            log(f"triggers that fired an error event (see the report): {sorted(errors)}")

        # the connection's secret: in no log, XCom or rendered template field
        leaks = []
        for path in self.home.rglob("*.log"):
            if "pgdata" in path.parts:
                continue
            if self.secret in path.read_text(errors="replace"):
                leaks.append(str(path.relative_to(self.home)))
        for table, column in (("xcom", "value"), ("rendered_task_instance_fields", "rendered_fields")):
            n = self.q(f"SELECT count(*) FROM {table} WHERE {column}::text LIKE %s", (f"%{self.secret}%",))[0][0]
            if n:
                leaks.append(f"{table}: {n} rows")
        n_xcom = self.q("SELECT count(*) FROM xcom")[0][0]
        self.checks["secret"] = {"log_files_scanned": sum(1 for _ in self.home.rglob("*.log")), "xcom_rows": n_xcom,
                                 "leaks": leaks}
        if leaks:
            self.fail(f"the connection's secret is in: {leaks}")

    # -- report -----------------------------------------------------------------------------------------------
    def report(self, ok: bool) -> None:
        a = self.args
        data = {
            "passed": ok, "failures": self.failures,
            "started": datetime.fromtimestamp(self.t0, timezone.utc).isoformat(),
            "total_s": round(time.time() - self.t0, 1), "phases_s": self.phases,
            "shape": {"executor": "CeleryExecutor", "workers": 2, "worker_concurrency": a.concurrency,
                      "triggerers": 2, "schedulers": 1, "dag_processors": 1, "api_servers": 1,
                      "database": "PostgreSQL (external)" if self.pg.external
                      else f"PostgreSQL {pg_bindir().parts[-2]}",
                      "broker": "Redis", "sandbox_pace_s": a.pace},
            "load": {"training_runs": a.runs, "external_waits": a.waits, "external_lr_seconds": a.external_seconds,
                     "training_lr_seconds": a.train_seconds},
            "faults": self.faults, "checks": self.checks,
            "component_exits_restarted": {k: len(v) for k, v in self.stack.restarts.items()},
            "peak_rss_mib": {k: round(v / 2**20) for k, v in self.sampler.peak.items()},
            "cpus": os.cpu_count(), "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        }
        out = Path(a.report_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
        lines = [f"distributed deployment test: {'PASSED' if ok else 'FAILED'} in {data['total_s']:.0f} s "
                 f"({os.cpu_count()} CPUs, load average at the end {data['load_average_at_end'][0]})",
                 f"shape: CeleryExecutor, 2 workers x {a.concurrency}, 2 triggerers, scheduler, dag-processor, "
                 f"api-server, {data['shape']['database']}, Redis, sandbox FATE Flow (pace {a.pace} s)",
                 f"runs: {self.checks.get('runs', {}).get('success', '?')}/"
                 f"{self.checks.get('runs', {}).get('total', '?')} "
                 f"succeeded ({a.runs} x {TRAIN_DAG}, 1 x {WAITS_DAG} with {a.waits} deferred JobStatusSensors)"]
        fj = self.checks.get("fate_jobs", {})
        if fj:
            lines.append(f"FATE jobs: {fj['distinct_jobs']} distinct for {fj['logical_submits']} logical submits "
                         f"({fj['training_jobs']} training, {fj['upload_jobs']} upload, "
                         f"{fj['external_jobs']} external)")
        dw = self.checks.get("deferred_waits", {})
        if dw:
            lines.append(f"deferred waits: {dw['sensors_succeeded']}/{dw['sensor_tasks']} sensors succeeded; "
                         f"{dw['wait_attempts_deferred'] + dw['training_attempts_deferred']} deferred attempts, "
                         f"{len(dw['attempts_resumed_other_than_once'])} not resumed exactly once, "
                         f"{len(dw['triggers_fired_again_after_a_triggerer_died'])} triggers fired again after their "
                         f"triggerer died before storing the event, {len(dw['trigger_error_events'])} trigger logs "
                         "with an error event")
        lines.append("faults (time to recover):")
        for f in self.faults:
            if f.get("skipped"):
                lines.append(f"  - {f['fault']}: skipped ({f['skipped']})")
                continue
            extra = f", exited and restarted by the supervisor: {f['exited_and_restarted']}" if f.get(
                "exited_and_restarted") else ""
            took = f"{f['recover_s']:.0f} s" if "recover_s" in f else "NOT recovered"
            lines.append(f"  - {f['fault']} at t+{f['at_s']:.0f} s: {took} ({f['recovered_when']}); "
                         f"deferred then: {f.get('in_flight')}{extra}")
        lines.append(f"component exits restarted by the supervisor: {data['component_exits_restarted'] or 'none'}")
        lines.append("peak RSS (MiB, process and children): " + ", ".join(
            f"{k} {v}" for k, v in data["peak_rss_mib"].items()))
        sec = self.checks.get("secret")
        if sec:
            lines.append(f"secret: found in {len(sec['leaks'])} places ({sec['log_files_scanned']} log files, "
                         f"{sec['xcom_rows']} XComs scanned)")
        lines += [f"FAILED: {f}" for f in self.failures]
        (out / "report.txt").write_text("\n".join(lines) + "\n")
        (out / "benchmarks.md").write_text(markdown(data))
        print("\n".join(lines), flush=True)
        print(f"report: {out / 'report.json'}, {out / 'report.txt'}", flush=True)

    # -- main -------------------------------------------------------------------------------------------------
    def run(self) -> bool:
        a = self.args
        ok = False
        try:
            self.start()
            self.phase("load: the training runs")
            # their LR component (only they have hetero_lr_0) is still running when the killed task's retry reattaches
            http("POST", f"http://127.0.0.1:{self.flow_port}/_sandbox/behave",
                 {"component": "hetero_lr_0", "seconds": a.train_seconds, "jobs": a.runs})
            for i in range(a.runs):
                run_id = f"train_{i:02d}"
                self.trigger(TRAIN_DAG, run_id, {"guest_table": f"guest_{run_id}", "host_table": f"host_{run_id}"})
            self.phase("fault: kill -9 a worker right after a submit")
            self.fault_worker_kill()
            self.wait_training_submitted()
            self.phase("load: external jobs (held) and the waits run")
            external_ids = self.submit_external()
            self.trigger(WAITS_DAG, "waits", {"job_ids": external_ids})

            def sensors(enough: int) -> bool:
                rows = [r for r in self.ti_states(WAITS_DAG, "wait") if r[2] >= 0]
                return len(rows) == a.waits and sum(1 for r in rows if r[3] == "deferred") >= enough

            first = max(1, int(a.waits * a.first_faults_at))
            self.wait(f"{first} sensors to defer", lambda: sensors(first), 1800, interval=2)
            self.phase("fault: kill -9 the triggerer holding the most waits")
            self.fault_triggerer_kill()
            self.phase("fault: restart the scheduler")
            self.fault_scheduler_restart()
            self.phase("fault: restart PostgreSQL")
            self.fault_postgres_restart()
            self.phase(f"waiting until all {a.waits} sensors are deferred")
            self.wait(f"all {a.waits} sensors to defer", lambda: sensors(a.waits), 1800, interval=2)
            self.phase("fault: the sandbox down, then the external jobs run")
            self.fault_sandbox_outage()
            self.phase("waiting for every run")
            left = max(60.0, a.timeout - (time.time() - self.t0))
            states = self.wait_all_runs(left)
            if getattr(self, "worker_watch", None):
                self.worker_watch.join(timeout=300)
            self.phase("stopping Airflow (its logs complete), then the checks")
            self.sampler.stopped.set()
            self.stack.stop(AIRFLOW_COMPONENTS)
            self.check(states, external_ids)
            ok = not self.failures
        except Exception as exc:  # noqa: BLE001 - reported, then the stack is stopped
            self.fail(f"{type(exc).__name__}: {exc}")
        finally:
            self.sampler.stopped.set()
            try:
                self.report(ok)
            except Exception as exc:  # noqa: BLE001
                log(f"could not write the report: {exc!r}")
            self.stack.stop()
            self.pg.drop()
            if not ok:
                for name in self.stack.procs:
                    print(f"---- last lines of {name}.log ----\n" + "\n".join(self.stack.log(name).splitlines()[-30:]))
            if a.keep or not ok:
                print(f"Airflow home and logs kept in {self.home}")
            else:
                shutil.rmtree(self.home, ignore_errors=True)
        return ok


def markdown(data: dict[str, Any]) -> str:
    """The BENCHMARKS.md section of one report."""
    shape, load, checks = data["shape"], data["load"], data["checks"]
    runs, fj, dw = checks.get("runs", {}), checks.get("fate_jobs", {}), checks.get("deferred_waits", {})
    lines = [
        "## A production-shaped Airflow: `make test-deploy-distributed`", "",
        f"`scripts/deploy_distributed.py` ({'passed' if data['passed'] else 'FAILED'}), {data['started'][:19]} UTC: "
        f"{data['total_s'] / 60:.1f} minutes on {data['cpus']} cores (1-minute load average at the end "
        f"{data['load_average_at_end'][0]}: other work shares the machine). A test with figures, not a benchmark: "
        "what it asserts fails the build; the times below are measured, not asserted.", "",
        f"Shape: {shape['executor']} with {shape['workers']} workers x {shape['worker_concurrency']} slots, "
        f"{shape['triggerers']} triggerers, a scheduler, a dag-processor, an api-server, {shape['database']}, "
        f"{shape['broker']}, the sandbox FATE Flow (components take {shape['sandbox_pace_s']:g} s, the training LR "
        f"{load['training_lr_seconds']:g} s) with client authentication. Load: {load['training_runs']} training "
        f"runs and {load['external_waits']} deferred JobStatusSensors on jobs submitted outside Airflow.", "",
        "| figure | value |", "|---|---|",
        f"| DAG runs succeeded | {runs.get('success', '?')} / {runs.get('total', '?')} |",
        f"| FATE jobs / logical submits | {fj.get('distinct_jobs', '?')} / {fj.get('logical_submits', '?')} "
        f"({fj.get('training_jobs', '?')} training, {fj.get('upload_jobs', '?')} upload, "
        f"{fj.get('external_jobs', '?')} external) |",
        f"| deferred attempts / resumed other than once | "
        f"{dw.get('wait_attempts_deferred', 0) + dw.get('training_attempts_deferred', 0)} / "
        f"{len(dw.get('attempts_resumed_other_than_once', {}))} |",
        f"| triggers fired again (their triggerer died before storing the event) | "
        f"{len(dw.get('triggers_fired_again_after_a_triggerer_died', {}))} |",
        f"| trigger logs with an error event (stored or not) | {len(dw.get('trigger_error_events', {}))} |",
        "| the secret in logs / XComs / rendered fields | "
        f"{len(checks.get('secret', {}).get('leaks', [])) or 'nowhere'} |",
        f"| component exits restarted by the supervisor | {data['component_exits_restarted'] or 'none'} |",
        "", "| fault | at | deferred then | time to recover | recovered when |", "|---|---|---|---|---|",
    ]
    for f in data["faults"]:
        if f.get("skipped"):
            lines.append(f"| {f['fault']} | | | skipped | {f['skipped']} |")
            continue
        took = f"**{f['recover_s']:.0f} s**" if "recover_s" in f else "**not recovered**"
        extra = f"; exited and restarted: {f['exited_and_restarted']}" if f.get("exited_and_restarted") else ""
        deferred = sum((f.get("in_flight") or {}).values())
        lines.append(f"| {f['fault']} | t+{f['at_s']:.0f} s | {deferred} | {took} | {f['recovered_when']}{extra} |")
    lines += ["", "| component | peak RSS (process and children) |", "|---|---|"]
    lines += [f"| {k} | {v} MiB |" for k, v in data["peak_rss_mib"].items()]
    lines += ["", "Phases (seconds from the start): " + ", ".join(f"{k} {v:.0f}" for k, v in data["phases_s"].items()),
              ""]
    return "\n".join(lines)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (a CI timeout): unwind, so every process is stopped and the report written."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="concurrent training runs (default 20)")
    parser.add_argument("--waits", type=int, default=200, help="deferred sensors on external jobs (default 200)")
    parser.add_argument("--pace", type=float, default=2.0, help="seconds each FATE component takes (default 2)")
    parser.add_argument("--external-seconds", type=float, default=20,
                        help="seconds the external jobs' LR component runs once they are let go (default 20; they "
                             "wait, held, until the last fault)")
    parser.add_argument("--first-faults-at", type=float, default=0.5,
                        help="share of the sensors deferred when the triggerer is killed (default 0.5); the scheduler "
                             "and PostgreSQL restarts follow, the sandbox outage comes once all are deferred")
    parser.add_argument("--train-seconds", type=float, default=120,
                        help="seconds the training jobs' LR component runs (default 120; the others take --pace)")
    parser.add_argument("--query-latency", type=float, default=5,
                        help="seconds FATE Flow answers job/query late while the worker-kill victim is looked for "
                             "(default 5): a training task lingers between its submit and its deferral")
    parser.add_argument("--concurrency", type=int, default=6, help="task slots per Celery worker (default 6)")
    parser.add_argument("--outage", type=float, default=30, help="seconds the sandbox is down (default 30)")
    parser.add_argument("--heartbeat-timeout", type=int, default=60,
                        help="[scheduler] task_instance_heartbeat_timeout in seconds (default 60)")
    parser.add_argument("--orphan-check", type=int, default=60,
                        help="[scheduler] orphaned_tasks_check_interval in seconds (default 60)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole test (default 1800)")
    parser.add_argument("--postgres-url", default=os.environ.get("FATEFLOW_DISTRIBUTED_POSTGRES_URL"),
                        help="use this PostgreSQL server (a database is created and dropped) instead of starting one; "
                             "env FATEFLOW_DISTRIBUTED_POSTGRES_URL")
    parser.add_argument("--report-dir", default=str(REPO / "build" / "deploy-distributed"),
                        help="where report.json and report.txt go (default build/deploy-distributed)")
    parser.add_argument("--keep", action="store_true", help="keep the Airflow home (logs) afterwards")
    args = parser.parse_args(argv)
    ok = Deployment(args).run()
    print(f"distributed deployment: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
