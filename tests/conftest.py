"""Test session setup: an isolated AIRFLOW_HOME, set before anything imports airflow."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="fateflow-airflow-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
# dag.test() walks the whole dags folder on every call: keep it to the small set of test DAGs.
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent / "dags")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: ../shared beside the repository (read-only), or FATEFLOW_SHARED_DIR.
SHARED = Path(os.environ.get("FATEFLOW_SHARED_DIR") or REPO.parent / "shared")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared reference folder (API.md, recordings, examples)."""
    if not (SHARED / "fateflow-v1").is_dir():
        pytest.fail(f"shared reference folder not found at {SHARED}; set FATEFLOW_SHARED_DIR")
    return SHARED


@pytest.fixture(scope="session")
def examples_dir(shared_dir: Path) -> Path:
    """The example tables and job conf/DSL files."""
    return shared_dir / "fateflow-v1" / "examples"


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated sqlite metadata database in the session's AIRFLOW_HOME (for dag.test())."""
    from airflow.utils import db

    db.resetdb(skip_init=False)
    return _HOME


def sync_dag_to_db(dag, bundle_name: str = "dags-folder") -> None:
    """Serialize a DAG built inside a test so that ``dag.test()`` accepts it (Airflow >= 3.1)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.flush()
        update_dag_parsing_results_in_db(
            bundle_name, None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )
