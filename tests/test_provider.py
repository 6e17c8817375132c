"""Registration: Airflow discovers the provider, its connection type, hook and form behaviour."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_fateflow import __version__
from airflow_provider_fateflow.get_provider_info import get_provider_info


def _airflow_cli(*args: str) -> str:
    """Run the real `airflow` CLI of this virtualenv and return its stdout."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), *args], capture_output=True, text=True, timeout=180, env=os.environ.copy(), check=False
    )
    assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_provider_info_is_valid_against_airflows_schema():
    import jsonschema
    from airflow import providers_manager

    schema_path = Path(providers_manager.__file__).with_name("provider_info.schema.json")
    jsonschema.validate(get_provider_info(), json.loads(schema_path.read_text()))


def test_every_listed_module_and_class_imports():
    info = get_provider_info()
    modules = [m for kind in ("hooks", "operators", "sensors", "triggers") for g in info.get(kind, []) for m in g["python-modules"]]
    assert "airflow_provider_fateflow.hooks.fateflow" in modules
    for module in modules:
        importlib.import_module(module)
    for path in [c["hook-class-name"] for c in info["connection-types"]] + info["extra-links"]:
        module, name = path.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), path


def test_package_name_matches_the_distribution():
    from importlib.metadata import distribution

    assert get_provider_info()["package-name"] == distribution("airflow-provider-fateflow").metadata["Name"]
    assert get_provider_info()["versions"] == [__version__]


@pytest.mark.slow
def test_airflow_cli_lists_provider_hook_and_behaviours():
    providers = json.loads(_airflow_cli("providers", "list", "-o", "json"))
    ours = [p for p in providers if p["package_name"] == "airflow-provider-fateflow"]
    assert ours and ours[0]["version"] == __version__, providers

    hooks = json.loads(_airflow_cli("providers", "hooks", "-o", "json"))
    fateflow = [h for h in hooks if h.get("connection_type") == "fateflow"]
    assert fateflow, hooks
    assert fateflow[0]["class"] == "airflow_provider_fateflow.hooks.fateflow.FateFlowHook"
    assert fateflow[0]["conn_id_attribute_name"] == "fateflow_conn_id"

    # Airflow 3.2+ reads the form behaviour from provider info, 3.1 from the hook's methods (via wtforms).
    behaviours = json.loads(_airflow_cli("providers", "behaviours", "-o", "json"))
    assert {"field_behaviours": "fateflow"} in behaviours, behaviours


def test_form_behaviour_and_fields_are_the_same_on_every_airflow_version():
    from airflow_provider_fateflow.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    behaviour = FateFlowHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == UI_FIELD_BEHAVIOUR["relabeling"]
    assert behaviour["relabeling"]["login"] == "App key" and behaviour["relabeling"]["password"] == "Secret key"
    widgets = FateFlowHook.get_connection_form_widgets()
    assert set(widgets) == set(CONN_FIELDS)
