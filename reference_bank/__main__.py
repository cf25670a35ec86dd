"""Run one reference bank: ``python -m reference_bank --bank-id ID --name NAME --bank-code 101 --port 8101 --platform URL``.

gunicorn (gthread, one worker) serves it by default: one process, because the
single-use ``jti`` store is in memory, and threads, because the proxy calls
it concurrently. ``--server werkzeug`` uses the development server instead.
Neither logs requests (paths name accounts).
"""

from __future__ import annotations

import argparse
import logging
import sys

from flask import Flask

from reference_bank.app import create_bank_app
from reference_bank.config import DEMO_IINS, BankConfig


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reference_bank", description=__doc__)
    parser.add_argument("--bank-id", required=True, help="the bank's participant id at the platform")
    parser.add_argument("--name", required=True)
    parser.add_argument("--bank-code", required=True, help="3 digits, inside the bank's IBANs")
    parser.add_argument("--platform", required=True, help="the platform's issuer URL (JWKS at {issuer}/jwks)")
    parser.add_argument("--jwks-url", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--customers", default=",".join(DEMO_IINS), help="comma-separated IINs always present"
    )
    parser.add_argument("--fault", choices=["malformed", "error"], default=None)
    parser.add_argument("--server", choices=["gunicorn", "werkzeug"], default="gunicorn")
    parser.add_argument("--threads", type=int, default=8)
    return parser.parse_args(argv)


def _serve_gunicorn(app: Flask, host: str, port: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class _Bank(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": threads,
                "accesslog": None,
                "loglevel": "warning",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    _Bank().run()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    config = BankConfig(
        bank_id=args.bank_id,
        name=args.name,
        bank_code=args.bank_code,
        platform_issuer=args.platform.rstrip("/"),
        jwks_url=args.jwks_url,
        seed=args.seed,
        customers=tuple(c.strip() for c in args.customers.split(",") if c.strip()),
        fault=args.fault,
    )
    app = create_bank_app(config)
    print(f"{config.name} ({config.bank_id}) at http://{args.host}:{args.port}", flush=True)
    if not app.config["VERIFIER"].keys.prefetch():
        print(
            f"the platform's keys are not at {config.platform_jwks_url} yet: fetched on the first call",
            flush=True,
        )
    if args.server == "werkzeug":
        from werkzeug.serving import run_simple

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        run_simple(args.host, args.port, app, threaded=True)
    else:
        _serve_gunicorn(app, args.host, args.port, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
