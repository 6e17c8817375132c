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


def test_form_has_no_prefilled_defaults_and_puts_what_a_user_sets_first():
    from airflow_provider_fateflow.get_provider_info import CONN_FIELDS

    assert list(CONN_FIELDS)[:3] == ["board_url", "initiator_role", "initiator_party_id"]
    # A default would be saved into every form-made connection and freeze today's value there.
    assert [name for name, field in CONN_FIELDS.items() if "default" in field["schema"]] == []
    assert CONN_FIELDS["initiator_role"]["schema"]["enum"] == ["guest", "host", "arbiter", "local"]
    assert CONN_FIELDS["api_version"]["schema"]["enum"] == ["v1", "v2", "auto"]
    assert CONN_FIELDS["disable_tls_verify"]["schema"]["type"] == ["boolean", "null"]
    assert CONN_FIELDS["proxies"]["schema"]["type"] == ["object", "null"]  # a JSON editor, not one line
    for name, field in CONN_FIELDS.items():
        assert field["label"] and field["description"].endswith("."), name


def test_hook_meta_sends_the_form_choices_a_toggle_and_no_values():
    """What the API server sends the connection form (GET /ui/connections/hook_meta): on 3.3 from the
    declarative fields, on 3.1 from the hook's wtforms fields (run on both by `.ci/run`)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    ours = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "fateflow"]
    assert ours, "fateflow is not in hook_meta"
    fields = ours[0].extra_fields
    assert list(fields)[:3] == ["board_url", "initiator_role", "initiator_party_id"]
    assert fields["initiator_role"]["schema"]["enum"] == ["guest", "host", "arbiter", "local"]
    assert fields["initiator_role"]["schema"]["title"] == "Default role"
    assert fields["disable_tls_verify"]["schema"]["type"][0] == "boolean"
    assert all(field["value"] is None for field in fields.values())
    assert ours[0].standard_fields.url_schema.title == "Protocol"


def test_airflow_3_1_form_from_the_hooks_wtforms_fields():
    """Airflow 3.1 builds the same form from the hook's wtforms fields: same order, no defaults, choices."""
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import AnyOf

    from airflow_provider_fateflow.get_provider_info import CONN_FIELDS
    from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

    widgets = FateFlowHook.get_connection_form_widgets()
    assert list(widgets) == list(CONN_FIELDS)
    assert widgets["disable_tls_verify"].field_class is BooleanField
    assert widgets["initiator_party_id"].field_class is IntegerField
    assert widgets["board_url"].field_class is StringField
    for name, widget in widgets.items():
        assert "default" not in widget.kwargs, name
    role_choices = [v.values for v in widgets["initiator_role"].kwargs["validators"] if isinstance(v, AnyOf)]
    assert role_choices == [["guest", "host", "arbiter", "local"]]


def test_project_urls_point_at_the_home_the_provider_names():
    from importlib.metadata import distribution

    from airflow_provider_fateflow.get_provider_info import PROJECT_URL

    urls = dict(entry.split(", ", 1) for entry in distribution("airflow-provider-fateflow").metadata.get_all("Project-URL"))
    assert urls["Documentation"] == f"{PROJECT_URL}#readme"  # the Providers page links the package name here
    assert urls["Homepage"] == urls["Source"] == PROJECT_URL
    assert urls["Bug Tracker"] == f"{PROJECT_URL}/issues"
    assert get_provider_info()["description"].endswith(PROJECT_URL)  # shown as a link on the Providers page
