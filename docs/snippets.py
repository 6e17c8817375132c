"""The code snippets of the docs come from the example DAGs, so they cannot drift.

A snippet in a Markdown file is a fenced code block right after a marker naming a region of an example DAG::

    <!-- snippet: example_fateflow_train_and_deploy.py#howto_submit_job -->
    ```python
    ...
    ```

and the region is the lines between ``# [START howto_submit_job]`` and ``# [END howto_submit_job]`` in
``dags/examples/example_fateflow_train_and_deploy.py`` (dedented). ``tests/examples`` fails when a snippet
differs from its region; ``python docs/snippets.py`` rewrites the snippets from the DAGs.
"""
from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "dags" / "examples"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

MARKER = re.compile(
    r"(?P<head><!-- snippet: (?P<file>[\w.]+)#(?P<name>\w+) -->\n```python\n)(?P<body>.*?)(?P<tail>```)",
    re.S,
)


def region(file: str, name: str) -> str:
    """The dedented lines between ``# [START name]`` and ``# [END name]`` of an example DAG."""
    text = (EXAMPLES / file).read_text()
    match = re.search(rf"^[ \t]*# \[START {name}\]\n(.*?)^[ \t]*# \[END {name}\]", text, re.S | re.M)
    if not match:
        raise KeyError(f"{file} has no region {name!r}")
    return textwrap.dedent(match.group(1))


def snippets(path: Path) -> list[tuple[str, str, str]]:
    """``(file, name, code)`` of every snippet in a Markdown file."""
    return [(m["file"], m["name"], m["body"]) for m in MARKER.finditer(path.read_text())]


def stale(path: Path) -> list[str]:
    """The snippets of ``path`` that differ from their region."""
    return [f"{path.name}: {file}#{name}" for file, name, code in snippets(path) if code != region(file, name)]


def write(path: Path) -> bool:
    """Rewrite the snippets of ``path`` from the DAGs; True if the file changed."""
    text = path.read_text()
    new = MARKER.sub(lambda m: m["head"] + region(m["file"], m["name"]) + m["tail"], text)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    changed = [p.name for p in DOCS if write(p)]
    print("rewrote: " + (", ".join(changed) if changed else "nothing (all snippets up to date)"))
    sys.exit(0)
