"""The sandbox's block-wise row copy (table and output-data archives) keeps the line-by-line semantics."""
from __future__ import annotations

import io
import random

import pytest

from airflow_provider_fateflow.testing import archives


def _reference(text: str, skip_first: bool, limit: int, delim: str) -> str:
    """The plain text-mode loop the block copy replaces: blank rows dropped, ``\\r\\n`` read as ``\\n``."""
    out, n, first = [], 0, True
    for line in io.StringIO(text, newline=None):
        if first and skip_first:
            first = False
            continue
        first = False
        if not line.strip():
            continue
        if 0 <= limit <= n:
            break
        out.append(line if delim == "," else line.replace(delim, ","))
        n += 1
    return "".join(out)


def _ending(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


@pytest.mark.parametrize("seed", range(4))
def test_block_copy_matches_line_by_line(monkeypatch, seed):
    rng = random.Random(seed)
    for _ in range(500):
        kinds = ["a,b", "1,2,3", "", "  ", "x;y", "\t", "id", " a,b", "\x0c"]
        rows = [rng.choice(kinds) + rng.choice(["\n", "\n", "\r\n"]) for _ in range(rng.randrange(0, 40))]
        text = "".join(rows) + rng.choice(["", "tail,1", "  "])
        monkeypatch.setattr(archives, "_BLOCK", rng.choice([1, 2, 3, 5, 8, 64, 1 << 20]))
        skip, limit, delim = rng.random() < 0.5, rng.choice([-1, -1, 0, 2, 5]), rng.choice([",", ",", ";"])
        out = io.BytesIO()
        archives._copy_rows(io.BytesIO(text.encode()), out, skip_first=skip, limit=limit, delim=delim.encode())
        assert _ending(out.getvalue().decode()) == _ending(_reference(text, skip, limit, delim)), (text, skip, limit)
