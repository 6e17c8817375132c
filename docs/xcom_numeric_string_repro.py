"""Minimal reproduction: Airflow's XCom API turns a string of digits into a JSON number.

A task returns the string "202612021758499866812" (a FATE job id: 21 digits). Downstream tasks pull the
string back unchanged, but ``GET /api/v2/.../xcomEntries/return_value?deserialize=true`` (what the UI's
XCom tab asks for) answers ``"value": 202612021758499866812``: a number, which JavaScript rounds to
202612021758499880000 (the XCom tab shows, and its copy button copies, that wrong id).

Why: the task SDK's serde leaves a ``str`` as it is, the execution API stores it in the JSON ``value``
column (``"202612021758499866812"``), and reading the column back gives the Python ``str``
``202612021758499866812``. The public XCom route then calls ``json.loads`` on that already-decoded value
(Airflow 3.3.2: ``airflow/api_fastapi/core_api/routes/public/xcom.py``, ``get_xcom_entry``,
``parsed_value = json.loads(result.value)``; Airflow 3.1.8: the same route calls
``XComModel.deserialize_value``, ``airflow/models/xcom.py``, ``json.loads(result.value, cls=XComDecoder)``),
which parses the digits as an int. A value inside a dict or list is not affected (the column gives a dict,
``json.loads`` raises ``TypeError`` and the value is kept).

Run (nothing but apache-airflow installed; no provider needed; about 15 s):

    python docs/xcom_numeric_string_repro.py

Prints the type and value the API answers for a bare string and for the same string inside a dict, and
exits 1 while the bug is present.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="xcom-repro-"))
atexit.register(shutil.rmtree, HOME, ignore_errors=True)
DAGS = HOME / "dags"
DAGS.mkdir()
os.environ.update({
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
})
JOB_ID = "202612021758499866812"
(DAGS / "xcom_digits.py").write_text(f'''
import pendulum
from airflow.sdk import DAG, task

with DAG("xcom_digits", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    @task
    def bare() -> str:
        return "{JOB_ID}"

    @task
    def in_dict() -> dict:
        return {{"job_id": "{JOB_ID}"}}

    @task
    def pull(value: str) -> None:
        assert value == "{JOB_ID}", repr(value)  # tasks get the string back: only the API/UI differ

    pull(bare())
    in_dict()
''')


def main() -> int:
    from airflow.utils import db

    db.resetdb(skip_init=False)
    import runpy

    dag = next(v for v in runpy.run_path(str(DAGS / "xcom_digits.py")).values() if type(v).__name__ == "DAG")
    run = dag.test()
    assert run.state == "success", run.state

    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_app

    client = TestClient(create_app())
    token = client.get("/auth/token").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    broken = False
    for task_id in ("bare", "in_dict"):
        url = f"/api/v2/dags/xcom_digits/dagRuns/{run.run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        answer = client.get(url, params={"deserialize": "true"}, headers=headers)
        raw = answer.text
        value = answer.json()["value"]
        shown = value.get("job_id") if isinstance(value, dict) else value
        print(f"{task_id:8s} deserialize=true -> {type(shown).__name__} {shown!r}")
        start = raw.index('"value"')
        print(f"         raw JSON: ...{raw[start:start + 60]}")
        broken |= not isinstance(shown, str)
    print("BUG: a string of digits comes back as a JSON number" if broken else "OK: strings stay strings")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
