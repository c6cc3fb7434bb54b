"""The `planfirst` command line: serve (what editors start), plans, run/resume, scripted-server."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from planfirst.settings import Settings

from planfirst import __version__


def _log_to_stderr() -> None:
    level = os.environ.get("PLANFIRST_LOG_LEVEL", "INFO").upper()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]  # stdout is the protocol
    if os.environ.get("PLANFIRST_LOG_FILE"):
        handlers.append(logging.FileHandler(os.environ["PLANFIRST_LOG_FILE"]))
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        handlers=handlers,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# what `serve` imports by the time it answers its first request (lsp/app.py imports lazily)
SERVE_MODULES = ("planfirst.lsp.app", "planfirst.lsp.features", "planfirst.llm.anthropic")


def _serve(args: argparse.Namespace) -> int:
    if args.check:  # the editor extension's start check: a missing dependency names itself here
        import importlib

        for name in SERVE_MODULES:
            importlib.import_module(name)
        return 0
    from planfirst.lsp.app import create_server

    _log_to_stderr()
    # pygls logs every message at INFO: keep the editor's log readable
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))
    from planfirst.lsp import logfilter

    logfilter.install()  # an error answer to a request is not logged as a server error
    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        from planfirst.lsp.framing import CappedStdin, install

        # pygls would allocate any Content-Length it is sent and leaves unparseable messages
        # unanswered: cap message size, answer every id (docs/reliability.md cases 20 and 33)
        install(server)
        server.start_io(stdin=CappedStdin(sys.stdin.buffer))  # type: ignore[arg-type]
    _end_process(0)


def _end_process(code: int) -> NoReturn:
    """The server loop has ended (`exit`, or the editor closed stdin): end the process now.

    The interpreter's own teardown of every loaded module (pydantic, lsprotocol, the SDK) took
    0.3-2 s here, and VS Code kills a server that has not ended 2 s after `exit` (logged as
    "Server process exited with signal SIGKILL" on every restart under load). Nothing is left
    to do by then: requests were answered or cancelled, validation process groups killed by the
    session's cancellation, plan files written atomically. The log is flushed first
    (tests/test_exit.py)."""
    from planfirst.plan import writer

    writer.drain()  # a step's history row or "running" record still queued (plan/writer.py)
    log = logging.getLogger("planfirst")
    log.info("the server loop ended; exiting with %d", code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed by `exit`, or the editor went away
            pass
    os._exit(code)


def _acp(args: argparse.Namespace) -> int:
    import asyncio

    from planfirst.acp.agent import serve

    _log_to_stderr()
    asyncio.run(serve(args.settings))
    return 0


def _terminal_settings(workspace: str) -> Settings:
    """The settings of a command without an editor: the environment, and the plans folder the
    workspace's language server recorded when the environment names none."""
    from planfirst.core.workspace.opening import environ_for_terminal
    from planfirst.settings import load_settings

    return load_settings(environ=environ_for_terminal(workspace, os.environ))[0]


def _plans(args: argparse.Namespace) -> int:
    from planfirst.core.workspace.opening import open_store
    from planfirst.plan.visible import for_terminal

    # titles, ids and file names come from the repository: no escape sequence reaches the
    # terminal (docs/reliability.md case 43)
    store = open_store(args.workspace, _terminal_settings(args.workspace))
    plans, problems = store.list()
    active = store.active()
    if not plans and not problems:
        print(for_terminal(f"no plans in {store.plans_dir}"))
    for p in plans:
        c = p.counts()
        mark = "*" if p.id == active else " "
        # another planfirst (an editor's server, a `planfirst run`) works on it: resume refuses
        held = store.claimed(p.id)
        busy = f"  (busy in another planfirst: {held[1][:80]})" if held else ""
        print(
            for_terminal(
                f"{mark} {p.id:<40} {p.status.value:<9} rev {p.revision:<3} "
                f"{c.get('done', 0)}/{c['total']} steps  {p.title}{busy}",
                one_line=True,  # one plan, one line: a title cannot forge rows (case 50)
            )
        )
    for pr in problems:
        print(f"! {for_terminal(pr.error, one_line=True)}", file=sys.stderr)
    return 1 if problems else 0


def _diff(args: argparse.Namespace) -> int:
    from planfirst.core.workflow.contracts import SessionError
    from planfirst.core.workflow.revisions import compare_plan
    from planfirst.core.workspace.opening import open_store
    from planfirst.plan.store import StoreError
    from planfirst.plan.visible import for_terminal

    store = open_store(args.workspace, _terminal_settings(args.workspace))
    plan_id = args.plan_id or store.active()
    if not plan_id:
        print("no active plan; name one with --plan ID (see `planfirst plans`)", file=sys.stderr)
        return 2
    try:
        _plan, a, b, diff = compare_plan(store, store.load(plan_id), args.from_rev, args.to_rev)
    except StoreError as e:
        print(for_terminal(str(e)), file=sys.stderr)
        return 2
    except SessionError as e:
        print(for_terminal(e.message), file=sys.stderr)
        return 2
    # the plans' text is repository data: no escape sequence reaches the terminal (case 43);
    # two revisions whose text is the same (a revision that changed only statuses, or the same
    # revision twice) say so, as the editor's diff document does
    sys.stdout.write(for_terminal(diff or f"(revisions {a} and {b} of {plan_id} read the same)\n"))
    return 0


def _scripted(args: argparse.Namespace) -> int:
    from planfirst.llm.scripted.server import main as scripted_main

    argv = ["--script", args.script, "--port", str(args.port)]
    return int(scripted_main(argv) or 0)


def _run(args: argparse.Namespace) -> int:
    from planfirst.terminal import run_main

    return run_main(args)


def _usd(text: str) -> float:
    """A spending cap in US dollars: a number, 0 or more (0 means nothing may be spent)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in US dollars") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a cap is 0 or more US dollars (0: nothing may be spent)"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(
        prog="planfirst", description="Plan first, then execute: AI coding through LSP."
    )
    p.add_argument("--version", action="version", version=f"planfirst {__version__}")
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve", help="run the language server (stdio by default)")
    s.add_argument("--stdio", action="store_true", help="speak LSP over stdin/stdout (default)")
    s.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead (debugging)")
    s.add_argument(
        "--check",
        action="store_true",
        help="import everything the server needs and exit: 0 when it can start",
    )
    s.set_defaults(func=_serve)
    a = sub.add_parser(
        "acp", help="run as an Agent Client Protocol agent over stdio (Zed, JetBrains, ...)"
    )
    a.add_argument(
        "--settings", metavar="FILE", help="a JSON settings file (same keys as the editor settings)"
    )
    a.set_defaults(func=_acp)
    pl = sub.add_parser("plans", help="list stored plans and their status")
    pl.add_argument(
        "--workspace", default=".", help="workspace folder (default: current directory)"
    )
    pl.set_defaults(func=_plans)
    df = sub.add_parser("diff", help="the unified diff of two revisions of a plan")
    df.add_argument("--plan", dest="plan_id", help="plan id (default: the active plan)")
    df.add_argument("--from", dest="from_rev", type=int, help="older revision (default: to - 1)")
    df.add_argument("--to", dest="to_rev", type=int, help="newer revision (default: the current)")
    df.add_argument(
        "--workspace", default=".", help="workspace folder (default: current directory)"
    )
    df.set_defaults(func=_diff)
    sc = sub.add_parser("scripted-server", help="run the scripted offline Messages API server")
    sc.add_argument("--script", required=True)
    sc.add_argument("--port", type=int, default=0)
    sc.set_defaults(func=_scripted)
    for name, helptext in (
        ("run", "plan and execute TASK from the terminal"),
        ("resume", "continue a stored plan"),
    ):
        r = sub.add_parser(name, help=helptext)
        if name == "run":
            r.add_argument("task")
            r.add_argument(
                "--plan-only", action="store_true", help="stop after the plan is written"
            )
        else:
            r.add_argument("--plan", dest="plan_id", help="plan id (default: the active plan)")
        r.add_argument(
            "--workspace", default=".", help="workspace folder (default: current directory)"
        )
        r.add_argument(
            "--yes", action="store_true", help="approve the plan and every step without asking"
        )
        r.add_argument("--script", help="scripted model turns (offline; no API key needed)")
        r.add_argument(
            "--execution-model", help="the model that runs the steps (default: executionModel)"
        )
        r.add_argument(
            "--max-cost-per-plan",
            type=_usd,
            metavar="USD",
            help="stop executing before this is exceeded (0: spend nothing)",
        )
        r.add_argument(
            "--max-cost-per-step",
            type=_usd,
            metavar="USD",
            help="stop a step before this is exceeded (0: spend nothing)",
        )
        r.set_defaults(func=_run, mode=name)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of `planfirst` and `python -m planfirst`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["serve", *(argv or [])])
    return int(args.func(args))
