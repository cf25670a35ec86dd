"""``python -m demo_app``: serve Qarjy, the demo API user's app (Werkzeug, threaded)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from demo_app import DemoAppConfig, create_app
from demo_app.api_user import DEMO_CLIENT_ID
from demo_app.banks import parse_banks


def main(argv: list[str] | None = None) -> int:
    data_dir = Path(os.environ.get("SENIM_DATA_DIR", "instance"))
    parser = argparse.ArgumentParser(prog="python -m demo_app", description=__doc__)
    parser.add_argument("--platform", default="http://127.0.0.1:8000", help="Senim's issuer URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--base-url", default=None, help="where browsers reach the app (default http://HOST:PORT)"
    )
    parser.add_argument("--data-dir", type=Path, default=data_dir, help="the app's files go in DATA_DIR/demo")
    parser.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="the client's private JWK (default DATA_DIR/demo/demo-app-private.jwk.json)",
    )
    parser.add_argument("--client-id", default=DEMO_CLIENT_ID)
    parser.add_argument(
        "--banks",
        default=os.environ.get("QARJY_BANKS", ""),
        help="the banks to offer: ID=Name,ID=Name (participant ids at the platform)",
    )
    args = parser.parse_args(argv)
    key_file = args.key_file or args.data_dir / "demo" / "demo-app-private.jwk.json"
    if not key_file.exists():
        parser.error(f"no client key at {key_file}: run `senim demo seed` first")
    try:
        banks = parse_banks(args.banks)
    except ValueError as error:
        parser.error(str(error))
    config = DemoAppConfig(
        platform=args.platform,
        base_url=args.base_url or f"http://{args.host}:{args.port}",
        key_file=key_file,
        data_dir=args.data_dir,
        banks=banks,
        client_id=args.client_id,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Werkzeug's request log prints query strings (the callback's code and state): keep it quiet.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(config)
    print(f"Qarjy (demo API user app) is serving {config.base_url}", file=sys.stderr)
    print(f"  redirect URI:     {config.redirect_uri}", file=sys.stderr)
    print(f"  notification URI: {config.notification_uri}", file=sys.stderr)
    print(f"  banks offered:    {', '.join(b.name for b in banks) or 'none (--banks)'}", file=sys.stderr)
    from werkzeug.serving import run_simple

    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
