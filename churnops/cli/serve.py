"""`churnops serve --config FILE`: serve an endpoint; `churnops serve export --target databricks`:
the same YAML as the databricks-sdk endpoint config, printed, or applied with `--apply`."""

from __future__ import annotations

import argparse
import json

from churnops.serving.config import DEFAULT_CONFIG, load_endpoint_config


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="serve models over HTTP (Databricks invocation API)")
    serve.add_argument("--config", default=str(DEFAULT_CONFIG), help="endpoint YAML")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, repeatable, e.g. --set routing.mode=random",
    )
    serve.set_defaults(run=run_serve)
    ssub = serve.add_subparsers(dest="serve_command")
    export = ssub.add_parser("export", help="the endpoint as a Databricks serving endpoint config")
    export.add_argument("--target", choices=["databricks"], default="databricks")
    export.add_argument("--config", default=str(DEFAULT_CONFIG), help="endpoint YAML")
    export.add_argument(
        "--resolve-aliases",
        action="store_true",
        help="resolve served-entity aliases to versions in the MLflow registry (tracking_uri)",
    )
    export.add_argument(
        "--apply", action="store_true", help="create or update the endpoint (needs credentials)"
    )
    export.set_defaults(run=run_export)


def run_serve(args: argparse.Namespace) -> int:
    from churnops.serving.server import serve

    serve(args.config, args.host, args.port, args.overrides)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from churnops.serving.export import apply_to_workspace, mlflow_alias_resolver, to_databricks

    cfg = load_endpoint_config(args.config)
    resolver = mlflow_alias_resolver(cfg.tracking_uri) if args.resolve_aliases else None
    endpoint = to_databricks(cfg, resolver)
    print(json.dumps(endpoint.as_dict(), indent=2))
    if args.apply:
        ready = apply_to_workspace(endpoint)
        print(f"endpoint {ready.name}: {ready.state}")
    return 0
