"""``hemodel app``: the interactive analyst app (Shiny for Python), served on this computer."""

from __future__ import annotations

import argparse
import socket
import sys

from .arguments import DEFAULT_SCENARIO_HELP, positive_int

EXAMPLE = """examples:
  hemodel app                               # the default scenario, opens your browser
  hemodel app scenarios/serena6_uk.yaml --port 8800 --no-browser

Change an assumption, press Run, download the edited scenario (a YAML file that extends the
original with only your changes), the result tables or an HTML report. The app listens on
127.0.0.1 only: other computers cannot reach it. Stop it with Ctrl-C.
"""


def register(sub) -> None:
    p = sub.add_parser(
        "app",
        help="interactive app: change inputs, see results, download the edited scenario",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", nargs="?", help=DEFAULT_SCENARIO_HELP)
    p.add_argument(
        "--port",
        type=lambda text: positive_int(text, 1),
        default=8765,
        help="port on 127.0.0.1 (default 8765)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.set_defaults(handler=run)


def run(args) -> int:
    try:
        import shiny
    except ImportError:
        print(
            "hemodel app: the app needs Shiny for Python: pip install 'hemodel[app]'",
            file=sys.stderr,
        )
        return 1
    from ..app.edits import Source
    from ..app.server import create_app
    from ..scenario.bundled import bundled_path
    from ..scenario.load import check_scenario

    if args.port > 65535:
        print("hemodel app: --port must be at most 65535", file=sys.stderr)
        return 2
    checked = check_scenario(args.scenario)  # errors: file:line messages, exit code 2
    path = checked.path
    bundled = bundled_path(path.name)
    own_file = bundled is None or bundled.resolve() != path.resolve()
    start = Source(path.name, path, checked)
    host = "127.0.0.1"
    busy = _busy(host, args.port)
    if busy:
        print(f"hemodel app: cannot listen on {host}:{args.port} ({busy}); choose another "
              "port with --port", file=sys.stderr)  # fmt: skip
        return 1
    url = f"http://{host}:{args.port}"
    print(f"hemodel app: {start.scenario.name} at {url} (Ctrl-C to stop)", flush=True)
    shiny.run_app(
        create_app(start, command_line_file=own_file),
        host=host,
        port=args.port,
        launch_browser=not args.no_browser,
        log_level="warning",
    )
    return 0


def _busy(host: str, port: int) -> str:
    """Why ``port`` cannot be listened on ('' if it can)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return ""
