"""Per-call timing driver for the official FATE Flow SDK (``flow_sdk`` from fate-client 1.11.2).

Runs with the interpreter of the SDK's own virtual environment (``.venv-fate-client``, see
``tests/sdk/requirements-fate-client.txt``); it imports nothing but ``flow_sdk`` and the standard library.
``bench/bench_hook.py`` starts it once and drives it over stdin/stdout, one JSON object per line, so that the
SDK's batches interleave with the hook's and bare ``requests``' batches against the same server:

- ``{"cmd": "setup", "host": ..., "port": ..., "job_id": ..., "namespace": ..., "table_name": ...}``
- ``{"cmd": "sniff"}``: one call of each operation; answers the method, path and JSON body each sent
  (to check that the three clients send the same request) and whether the answer was ``retcode 0``.
- ``{"cmd": "batch", "op": "job.query" | "job.list" | "table.info", "calls": N}``: answers
  ``{"wall": seconds per call, "cpu": process CPU seconds per call}``, timed here with ``perf_counter``
  and ``process_time`` around the N calls (the pipe round trip is not counted).
- ``{"cmd": "quit"}``.
"""
from __future__ import annotations

import gc
import json
import sys
import time

from flow_sdk.client import FlowClient


def main() -> int:
    client = None
    ops = {}
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "setup":
            client = FlowClient(msg["host"], msg["port"], "v1")
            job_id, ns, table = msg["job_id"], msg["namespace"], msg["table_name"]
            ops = {
                "job.query": lambda: client.job.query(job_id=job_id),
                "job.list": lambda: client.job.list(limit=10),
                "table.info": lambda: client.table.info(namespace=ns, table_name=table),
            }
            out = {"ok": True}
        elif cmd == "sniff":
            sent = []
            send = client._http.send

            def recording(prepped, **kw):
                sent.append({"method": prepped.method, "path": prepped.path_url,
                             "body": json.loads(prepped.body) if prepped.body else None})
                return send(prepped, **kw)

            client._http.send = recording
            out = {}
            try:
                for name, fn in ops.items():
                    sent.clear()
                    answer = fn()
                    out[name] = dict(sent[-1], retcode=answer.get("retcode") if isinstance(answer, dict) else None)
            finally:
                del client._http.send
        elif cmd == "batch":
            fn, calls = ops[msg["op"]], int(msg["calls"])
            gc.collect()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for _ in range(calls):
                fn()
            out = {"wall": (time.perf_counter() - wall0) / calls, "cpu": (time.process_time() - cpu0) / calls}
        elif cmd == "quit":
            return 0
        else:
            out = {"error": f"unknown command {cmd!r}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
