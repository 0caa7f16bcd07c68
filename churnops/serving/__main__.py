"""`python -m churnops.serving --config FILE [--host H] [--port P]`: serve one endpoint."""

from __future__ import annotations

import argparse
import sys

from churnops.config import ConfigError, mask_secrets
from churnops.serving.config import DEFAULT_CONFIG
from churnops.serving.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churnops.serving", description=__doc__)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="endpoint YAML")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        serve(args.config, args.host, args.port)
    except ConfigError as exc:  # a config the server cannot start with: one line, no traceback
        print(f"{parser.prog}: error: {mask_secrets(str(exc))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
