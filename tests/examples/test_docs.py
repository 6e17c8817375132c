"""The docs' snippets are the example DAGs' code, and every operator, sensor and trigger is documented."""
from __future__ import annotations

import importlib.util
import re

from examples.helpers import REPO

_spec = importlib.util.spec_from_file_location("docs_snippets", REPO / "docs" / "snippets.py")
snippets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(snippets)  # type: ignore[union-attr]

OPERATORS_MD = REPO / "docs" / "operators.md"


def test_every_snippet_is_the_code_of_its_example_dag():
    found = {path.name: snippets.snippets(path) for path in snippets.DOCS}
    assert len(found["operators.md"]) >= 20
    stale = [s for path in snippets.DOCS for s in snippets.stale(path)]
    assert not stale, f"run `python docs/snippets.py` to refresh: {stale}"


def test_every_operator_and_sensor_has_a_snippet_from_an_example():
    import airflow_provider_fateflow.operators as operators
    import airflow_provider_fateflow.sensors.fateflow as sensors

    names = [n for n in operators.__all__ if n.endswith("Operator")] + list(sensors.__all__)
    code = "\n".join(body for _, _, body in snippets.snippets(OPERATORS_MD))
    text = OPERATORS_MD.read_text()
    missing = [n for n in names if not re.search(rf"\b{n}(\(|\.partial\()", code)]
    assert not missing, f"no snippet shows {missing}"
    assert all(f"`{n}`" in text for n in names)


def test_every_trigger_is_documented():
    import airflow_provider_fateflow.triggers.fateflow as triggers

    text = OPERATORS_MD.read_text()
    names = [n for n in triggers.__all__ if n.endswith("Trigger")]
    assert names and all(f"`{n}(" in text for n in names), names


def test_readme_links_the_operator_docs_and_starts_with_make_demo():
    readme = (REPO / "README.md").read_text()
    assert "docs/operators.md" in readme
    first_command = re.search(r"```(?:bash|sh)?\n(.+?)\n", readme).group(1)
    assert first_command.split("#")[0].strip() == "make demo"
