"""eleven-nb: serve the local voice, speak text to files, list voices, manage the shared server."""
from __future__ import annotations

import argparse
import logging
import sys

from .server.engines import DEFAULT_ENGINE, ENGINES

DEFAULT_PORT = 8765
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def _serve(args: argparse.Namespace) -> int:
    from .server import serve
    from .server.auth import keys_from_env

    keys = tuple(args.api_key or ()) or keys_from_env()
    try:
        serve(args.host, args.port, engine=args.engine, voice_path=args.voice, api_keys=keys,
              max_connections=args.max_connections, announce=args.announce, publish=args.publish,
              idle_exit=args.idle_exit)
    except (OSError, ValueError, RuntimeError, OverflowError) as exc:  # OverflowError: a port past 65535
        print(f"eleven-nb serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _voices(args: argparse.Namespace) -> int:
    from .client import Client, ElevenError

    try:
        voices = Client(base_url=args.base_url).list_voices()
    except ElevenError as exc:
        print(f"eleven-nb voices: {exc}", file=sys.stderr)
        return 1
    for voice in voices:
        extra = voice.get("eleven_nb", {})
        flag = " (default)" if extra.get("default") else ""
        honours = f"  honours: {', '.join(extra['honours'])}" if extra.get("honours") else ""
        print(f"{voice['voice_id']:<24} {voice['name']}{flag}{honours}")
    return 0


def _server(args: argparse.Namespace) -> int:
    from . import local_server

    found = local_server.running()
    if not found:
        print(f"no shared voice server is running (runtime files in {local_server.runtime_dir()})")
        return 0
    for info in found:
        live = local_server.answers(info)
        if args.action == "stop":
            gone = local_server.stop(info)
            print(f"{'stopped' if gone else 'could not stop'} the {info.engine} voice server "
                  f"at {info.url} (pid {info.pid})")
            if not gone:
                return 1
        else:
            state = "running" if live else "not answering (stale runtime file)"
            print(f"{info.engine}: {info.url} pid {info.pid} {state}; file "
                  f"{local_server.runtime_path(info.engine)}")
    return 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the local ElevenLabs-compatible server")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default: %(default)s, this machine only)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help="port (default: %(default)s; 0 picks a free one)")
    serve.add_argument("--engine", choices=("default", *ENGINES), default="default",
                       help=f"default: {DEFAULT_ENGINE}; hibari and piper: neural voices (both are served, the "
                            "engine named first is the default voice); espeak: fast, robotic, alone")
    serve.add_argument("--voice", help="another piper .onnx voice file (its .onnx.json beside it)")
    serve.add_argument("--api-key", action="append",
                       help="require this key (repeatable; or set ELEVEN_NB_SERVER_API_KEYS=k1,k2, "
                            "which keeps keys out of the process list)")
    serve.add_argument("--max-connections", type=int, help="refuse connections past this many")
    serve.add_argument("--announce", action="store_true",
                       help="print one JSON line with the URL once listening (for parent processes)")
    serve.add_argument("--publish", metavar="FILE",
                       help="write a runtime file (URL, PID, the first key; mode 0600) once listening, "
                            "remove it at exit (the shared server does this)")
    serve.add_argument("--idle-exit", type=float, metavar="SECONDS",
                       help="exit after this long with no request or connection")
    serve.set_defaults(func=_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eleven-nb", description=__doc__)
    parser.add_argument("--log-level", default="WARNING", type=str.upper, choices=LOG_LEVELS,
                        help="logging level (default: %(default)s; DEBUG logs every message)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)

    voices = sub.add_parser("voices", help="list the voices of the resolved endpoint")
    voices.add_argument("--base-url", help="server to ask (default: as the client resolves it)")
    voices.set_defaults(func=_voices)

    server = sub.add_parser("server", help="show or stop the shared local voice server",
                            description="The local voice server shared by your kernels and scripts "
                                        "(started on first use, exits by itself when idle).")
    server.add_argument("action", choices=("status", "stop"), help="status: show it; stop: stop it")
    server.set_defaults(func=_server)

    from . import cli_say  # not under client/: the server's start must not import the client

    cli_say.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: a line, not a traceback (say leaves no half-written file)
        print(f"eleven-nb {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    return result
