"""Console script ``fateflow-sandbox``: run a local FATE Flow v1 server until interrupted."""
from __future__ import annotations

import argparse
import logging
import sys

from .config import SandboxConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(prog="fateflow-sandbox", description="Local FATE Flow 1.11 (v1 API) stand-in.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9380)
    p.add_argument("--state-dir", default=None, help="keep jobs, tables and models in sqlite here (default: memory)")
    p.add_argument("--auth", default=None, metavar="APP_KEY:SECRET", help="require HMAC-SHA1 signed requests")
    p.add_argument("--board-url", default="http://127.0.0.1:8080")
    p.add_argument("--pace", type=float, default=None,
                   help="seconds every component takes; 0 = instant (default: the timing model of a real FATE Flow)")
    p.add_argument("--time-scale", type=float, default=0.1,
                   help="share of real time the timing model uses (default 0.1; ignored with --pace)")
    p.add_argument("--scheduler-interval", type=float, default=None,
                   help="seconds until a rerun is picked up (default 2, or 0.3 with --pace 0)")
    p.add_argument("--no-serving", action="store_true", help="no FATE-Serving: model load/bind fail as recorded")
    p.add_argument("--no-model-store", action="store_true", help="no model store: store/restore jobs fail")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox in the foreground."""
    args = parse_args(argv)
    auth = None
    if args.auth:
        key, sep, secret = args.auth.partition(":")
        if not sep or not key or not secret:
            print("--auth must be APP_KEY:SECRET", file=sys.stderr)
            return 2
        auth = (key, secret)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    config = SandboxConfig(host=args.host, port=args.port, state_dir=args.state_dir, auth=auth, pace=args.pace,
                           time_scale=args.time_scale, scheduler_interval=args.scheduler_interval,
                           serving=not args.no_serving, model_store=not args.no_model_store,
                           board_url=args.board_url, log_requests=not args.quiet)
    import uvicorn

    from .app import SandboxServer
    from .sandbox import KEEP_ALIVE_S

    app = SandboxServer(config)
    logging.getLogger("fateflow_sandbox").info("fateflow-sandbox on http://%s:%s/v1 (state: %s, auth: %s)",
                                               args.host, args.port, args.state_dir or "memory",
                                               "on" if auth else "off")
    try:
        uvicorn.run(app, host=args.host, port=args.port, lifespan="on", log_level="warning", access_log=False,
                    timeout_keep_alive=KEEP_ALIVE_S)
    finally:
        app.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
