"""The FATE 1.x client SDK's call shapes (the document the provider started from), exactly as written there.

``job.generate_dsl(train_dsl_path, version="1", cpn_file_path=None, cpn_list=None)``,
``model.export(conf_path)`` (``output_path`` inside the conf) and ``model.imp(conf_path)`` (``file`` inside the
conf) work positionally and by keyword, with a conf as a dict or a JSON path, beside the hook's richer forms.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from _integration_helpers import DEPLOY_COMPONENTS, EXAMPLES, GUEST, MODEL_ID, Trained, example

from airflow_provider_fateflow.client import FateFlowInputError, ModelImportResult
from airflow_provider_fateflow.hooks.fateflow import FateFlowHook

DSL_PATH = str(EXAMPLES / "hetero_lr_dsl.json")


def test_generate_dsl_as_the_seed_writes_it(hook: FateFlowHook, tmp_path: Path):
    expected = hook.job.generate_dsl(example("hetero_lr_dsl.json"), DEPLOY_COMPONENTS)
    assert sorted(expected["components"]) == sorted(DEPLOY_COMPONENTS)
    cpn_file = tmp_path / "components.txt"
    cpn_file.write_text("\n".join(DEPLOY_COMPONENTS) + "\n")
    assert hook.job.generate_dsl(DSL_PATH, "2", None, DEPLOY_COMPONENTS) == expected  # positional
    assert hook.job.generate_dsl(train_dsl_path=DSL_PATH, version="2", cpn_list=DEPLOY_COMPONENTS) == expected
    assert hook.job.generate_dsl(train_dsl_path=DSL_PATH, cpn_file_path=cpn_file) == expected
    assert hook.job.generate_dsl(DSL_PATH, "2", str(cpn_file)) == expected
    assert hook.job.generate_dsl(DSL_PATH, cpn_list=",".join(DEPLOY_COMPONENTS)) == expected
    with pytest.raises(FateFlowInputError, match="give the components once"):
        hook.job.generate_dsl(DSL_PATH, DEPLOY_COMPONENTS, cpn_list=DEPLOY_COMPONENTS)
    with pytest.raises(FateFlowInputError, match="cpn_file_path"):
        hook.job.generate_dsl(DSL_PATH, cpn_file_path=tmp_path / "missing.txt")


def test_export_and_import_as_the_seed_writes_them(hook: FateFlowHook, trained: Trained, tmp_path: Path):
    conf = {"role": "guest", "party_id": GUEST, "model_id": MODEL_ID, "model_version": trained.deployed_version}
    out = tmp_path / "exported"
    zip_path = hook.model.export({**conf, "output_path": str(out)})  # output_path inside the conf
    assert zip_path.parent == out and zip_path.suffix == ".zip"
    conf_path = tmp_path / "export_conf.json"
    conf_path.write_text(json.dumps({**conf, "output_path": str(tmp_path / "from_file")}))
    assert hook.model.export(conf_path=str(conf_path)).parent == tmp_path / "from_file"  # a JSON path
    assert hook.model.export(conf, out / "arg").parent == out / "arg"  # the hook's own form still works
    with pytest.raises(FateFlowInputError, match="output_path"):
        hook.model.export(conf)

    imp_conf = tmp_path / "import_conf.json"
    imp_conf.write_text(json.dumps({**conf, "file": str(zip_path), "force_update": 1}))
    result = hook.model.imp(str(imp_conf))  # file inside the conf, the conf a JSON path
    assert isinstance(result, ModelImportResult) and result.model_version == trained.deployed_version
    assert hook.model.imp(conf_path={**conf, "file": str(zip_path), "force_update": 1}).model_id == MODEL_ID
    assert hook.model.import_model({**conf, "force_update": 1}, zip_path).model_id == MODEL_ID
    with pytest.raises(FateFlowInputError, match="file"):
        hook.model.imp({**conf, "force_update": 1})
