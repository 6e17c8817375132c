"""Helpers and fixtures of the example-DAG tests: the examples loaded once through a DagBag, a sandbox per module,
``fateflow_default`` pointing at it, and ``run_example`` (``dag.test()`` with the waits shortened)."""
from __future__ import annotations

import copy
import csv
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO / "dags" / "examples"
BOARD = "http://fateboard.test:8080"
MODEL_ID = "arbiter-10000#guest-9999#host-10000#model"


def load_dagbag(folder: Path = EXAMPLES_DIR) -> Any:
    """A DagBag of ``folder`` (its module moved in Airflow 3.2)."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 3.1
    return DagBag(dag_folder=str(folder))


@pytest.fixture(scope="session")
def sync_dag_to_db(request: pytest.FixtureRequest) -> Any:
    """``sync_dag_to_db`` of the tests' root conftest.py (the module name ``conftest`` is shadowed here)."""
    root = REPO / "tests" / "conftest.py"
    for plugin in request.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == root:
            return plugin.sync_dag_to_db
    raise RuntimeError(f"{root} is not loaded")


@pytest.fixture(scope="session")
def example_dags() -> dict[str, Any]:
    """The example DAGs, by dag id (imported once per session)."""
    bag = load_dagbag()
    assert not bag.import_errors, bag.import_errors
    return dict(bag.dags)


@pytest.fixture(scope="module")
def flow():
    """A sandbox FATE Flow for the module; each component takes 0.2 s, so the waits really wait."""
    from airflow_provider_fateflow.testing import FateFlowSandbox

    with FateFlowSandbox(pace=0.2, board_url=BOARD) as sandbox:
        yield sandbox


@pytest.fixture
def sb(flow, monkeypatch):
    """The module's sandbox, ``fateflow_default`` pointing at it, and behaviours cleared around the test."""
    monkeypatch.setenv("AIRFLOW_CONN_FATEFLOW_DEFAULT", conn_json(flow.port))
    flow.clear_behaviours()
    flow.hold(False)
    yield flow
    flow.clear_behaviours()
    flow.hold(False)


def conn_json(port: int) -> str:
    return json.dumps({"conn_type": "fateflow", "host": "127.0.0.1", "port": port,
                       "extra": {"initiator_role": "guest", "initiator_party_id": 9999, "board_url": BOARD}})


def hasten(dag: Any) -> None:
    """Poll every 0.2 s instead of every 5-60 s, and retry at once (the DAG's logic is unchanged)."""
    for task in dag.tasks:
        if hasattr(task, "poll_interval"):
            task.poll_interval = 0.2
        if hasattr(task, "poke_interval") and not getattr(task, "is_mapped", False):
            task.poke_interval = 0.2
        if getattr(task, "retries", 0) and not getattr(task, "is_mapped", False):
            task.retry_delay = timedelta(0)


@pytest.fixture(scope="session")
def run_example(sync_dag_to_db: Any) -> Any:
    """``run_example(dag, **dag_test_kwargs)``: ``dag.test()`` of an example, serialized first (it is not
    in the tests' dags folder) and with its waits shortened."""

    defaults: dict[str, dict[str, Any]] = {}

    def run(dag: Any, **kwargs: Any) -> Any:
        # dag.test() runs every task in this process, where a run's conf is written into the tasks' Param
        # objects (airflow.sdk.definitions.param.process_params): put the defaults back before each run.
        saved = defaults.setdefault(dag.dag_id, {k: copy.deepcopy(dag.params.get_param(k).value)
                                                 for k in dag.params})
        for holder in [dag, *dag.tasks]:
            params = getattr(holder, "params", None) or {}
            for key, value in saved.items():
                if key in params:
                    params.get_param(key).value = copy.deepcopy(value)
        hasten(dag)
        sync_dag_to_db(dag)
        return _test(dag, **kwargs)

    return run


def _test(dag: Any, **kwargs: Any) -> Any:
    started = time.monotonic()
    dr = dag.test(**kwargs)
    print(f"dag.test({dag.dag_id}) took {time.monotonic() - started:.1f} s: {dr.state}")
    return dr


def states(dr: Any) -> dict[str, str]:
    return {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
            for ti in dr.get_task_instances()}


def xcoms(dr: Any) -> dict[tuple[str, str], Any]:
    """``{(task_id, key): value}`` of a run (mapped tasks: the last map index wins)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dr.dag_id, XComModel.run_id == dr.run_id)
        return {(x.task_id, x.key): x.value for x in rows}  # the JSON column: what the tasks pulled


def wait_job(hook: Any, job_id: str, role: str = "guest", party_id: int = 9999, timeout: float = 60) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = hook.job.query(job_id=job_id, role=role, party_id=party_id)
        if rows and rows[0].status.is_terminal:
            return rows[0]
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not finish in {timeout} s")


def upload(hook: Any, path: Path, table: str, namespace: str = "experiment") -> None:
    result = hook.data.upload({"file": str(path), "head": 1, "partition": 4, "namespace": namespace,
                               "table_name": table}, drop=True)
    assert wait_job(hook, result.job_id, "local", 0).status.is_success


def upload_training_tables(hook: Any, guest_csv: Path | None = None) -> None:
    """The two training tables, as the upload DAG leaves them (``guest_csv`` replaces the guest's file)."""
    upload(hook, guest_csv or EXAMPLES_DIR / "data" / "guest.csv", "breast_hetero_guest")
    upload(hook, EXAMPLES_DIR / "data" / "host.csv", "breast_hetero_host")


def noisy_guest_csv(tmp_path: Path, every: int = 10) -> Path:
    """The guest table with every ``every``-th label flipped: a bad batch of labels (the AUC drops)."""
    src = EXAMPLES_DIR / "data" / "guest.csv"
    with src.open(newline="") as fh:
        header, *rows = list(csv.reader(fh))
    label = header.index("y")
    for i, row in enumerate(rows):
        if i % every == 0:
            row[label] = "1" if row[label] == "0" else "0"
    out = tmp_path / "guest_noisy.csv"
    with out.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return out


def train_and_deploy(hook: Any) -> tuple[str, str]:
    """A trained and deployed model, made with the hook (the fast way to give a test a model)."""
    upload_training_tables(hook)
    conf = json.loads((EXAMPLES_DIR / "conf" / "hetero_lr_conf.json").read_text())
    for role in ("guest", "host"):
        conf["component_parameters"]["role"][role]["0"]["reader_0"]["table"] = {
            "namespace": "experiment", "name": f"breast_hetero_{role}"}
    conf["airflow"] = {"description": "made by the tests"}
    result = hook.job.submit(conf, EXAMPLES_DIR / "conf" / "hetero_lr_dsl.json")
    assert wait_job(hook, result.job_id).status.is_success
    dsl = hook.job.generate_dsl(json.loads((EXAMPLES_DIR / "conf" / "hetero_lr_dsl.json").read_text()),
                                ["reader_0", "data_transform_0", "hetero_lr_0"])
    deployed = hook.model.deploy(result.model_id, result.model_version, predict_dsl=dsl)
    return result.job_id, deployed.model_version
