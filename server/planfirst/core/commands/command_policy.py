"""Which validation commands may run: split without a shell, the allow-list, the argv rules.

docs/reliability.md cases 3, 11 and 27 live here; process.py runs what this module allows.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from planfirst.core.commands.argv_rules import Workspace, flag_risk, node_script_ok

NO_WAY_TO_ASK = "no way to ask for confirmation"


# ---------------------------------------------------------------- splitting and policy


def split_command(cmd: str) -> list[str]:
    """Split `cmd` into argv the POSIX-shell way, without ever running a shell.

    Shell operators and substitutions are not interpreted: `a; b` gives `["a;", "b"]`.
    Raises ValueError with a readable message for an empty or unparseable command.
    """
    if not isinstance(cmd, str) or not cmd.strip():
        raise ValueError("the validation command is empty")
    if "\x00" in cmd:
        raise ValueError(f"the validation command {cmd!r} contains a NUL byte")
    try:
        argv = shlex.split(cmd, comments=False, posix=True)
    except ValueError as e:
        raise ValueError(f"cannot split the validation command {cmd!r}: {e}") from None
    if not argv or not argv[0]:
        raise ValueError(f"the validation command {cmd!r} names no program")
    return argv


@dataclass(frozen=True)
class PolicyDecision:
    """Whether a command may run without asking, the argv it runs as, and why."""

    argv: list[str]
    allowed: bool
    reason: str


_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Interpreter flags that change nothing about *what* runs; anything else before `-m` (notably
# `-c`) makes a python command need confirmation.
_PY_PLAIN_FLAGS = {"-B", "-E", "-I", "-O", "-OO", "-P", "-q", "-s", "-S", "-u", "-b", "-bb", "-v"}
_PY_FLAGS_WITH_VALUE = {"-W", "-X"}
_PYTHON = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?$")
_NODE_SCRIPT_EXT = re.compile(r"\.(c|m)?js$")
# Package-manager subcommands that only run a project's own test script.
_TEST_SCRIPT_NAMES = {"test", "t", "tst"}


class CommandPolicy:
    """Decides which validation commands run without asking: an allow-list of program names.

    Rule (docs/reliability.md cases 3 and 27):
    - The program is identified by the basename of argv[0], so `.venv/bin/pytest` and
      `./node_modules/.bin/eslint` count as `pytest` and `eslint`. A relative program path must
      stay inside the workspace (no `..`).
    - Launchers do not allow everything they can launch. `python`/`python3` (also `python3.12`,
      `pypy3`) is allowed only as `python [harmless flags] -m MODULE` with MODULE allowed;
      `python -c …` and `python script.py` always need confirmation. `node` is allowed only for a
      script whose basename without `.js` is an allowed tool. `npm`/`yarn`/`pnpm` are allowed for
      `test` and for `run NAME` / `exec NAME` with NAME allowed; `npx NAME` with NAME allowed.
      A launcher is itself still subject to the list: remove `python` and no `python -m` runs.
    - `VAR=value cmd` is never allowed: there is no shell to interpret it.
    """

    def __init__(self, allow: Iterable[str], workspace: Workspace | None = None) -> None:
        self.allow: frozenset[str] = frozenset(a.strip() for a in allow if a and a.strip())
        self.workspace = workspace  # where programs, scripts and modules resolve (case 27)

    def decide(self, cmd: str) -> PolicyDecision:
        """Split `cmd` and decide whether it may run without confirmation."""
        try:
            argv = split_command(cmd)
        except ValueError as e:
            return PolicyDecision([], False, str(e))
        allowed, reason = self._decide_argv(argv)
        return PolicyDecision(argv, allowed, reason)

    def _ok(self, name: str) -> bool:
        return name in self.allow

    def _not_listed(self, name: str) -> str:
        return f"'{name}' is not on planfirst.validation.allow"

    def _decide_argv(self, argv: list[str]) -> tuple[bool, str]:
        prog = argv[0]
        if _ENV_ASSIGN.match(prog):
            return False, (
                f"'{prog}' is an environment assignment; planfirst runs commands without a shell, "
                "so set variables outside planfirst"
            )
        if "/" in prog:
            norm = posixpath.normpath(prog)
            if not prog.startswith("/") and (norm == ".." or norm.startswith("../")):
                return False, f"program path '{prog}' points outside the workspace"
        name = posixpath.basename(prog.rstrip("/"))
        if not name:
            return False, f"'{prog}' names no program"
        if not self._ok(name):
            return False, self._not_listed(name)
        rest = argv[1:]
        risk = flag_risk(name, rest) or (
            self.workspace.program_risk(prog) if self.workspace is not None else None
        )
        if risk:
            return False, risk
        if _PYTHON.match(name):
            return self._python(name, rest, prog)
        if name == "node":
            return self._node(rest)
        if name in ("npm", "yarn", "pnpm"):
            return self._package_manager(name, rest)
        if name == "npx":
            return self._npx(rest)
        return True, f"'{name}' is on planfirst.validation.allow"

    def _python(self, name: str, rest: list[str], prog: str | None = None) -> tuple[bool, str]:
        i = 0
        while i < len(rest):
            arg = rest[i]
            if arg == "-m":
                if i + 1 >= len(rest):
                    return False, f"'{name} -m' names no module"
                module = rest[i + 1]
                top = module.split(".")[0]
                if self._ok(module) or self._ok(top):
                    isolated = any(f in ("-I", "-P") for f in rest[:i])
                    risk = (
                        self.workspace.module_risk(name, module, isolated, prog)
                        if self.workspace is not None
                        else None
                    )
                    if risk:
                        return False, risk
                    return True, f"'{name} -m {module}': '{top}' is on planfirst.validation.allow"
                return False, f"'{name} -m {module}': " + self._not_listed(top)
            if arg.startswith("-m") and len(arg) > 2:
                return self._python(name, [*rest[:i], "-m", arg[2:], *rest[i + 1 :]], prog)
            if arg in _PY_PLAIN_FLAGS:
                i += 1
                continue
            if arg in _PY_FLAGS_WITH_VALUE:
                i += 2
                continue
            if arg[:2] in _PY_FLAGS_WITH_VALUE:
                i += 1
                continue
            if arg == "-c" or arg.startswith("-c"):
                return False, f"'{name} -c' runs inline code; it always needs confirmation"
            if arg.startswith("-"):
                return False, f"'{name} {arg}' is not a flag planfirst recognises as harmless"
            return False, (
                f"'{name} {arg}' runs a script; only '{name} -m <allowed tool>' runs without confirmation"
            )
        return False, f"'{name}' without '-m <allowed tool>' needs confirmation"

    def _node(self, rest: list[str]) -> tuple[bool, str]:
        # Only `node path/to/<tool>[.js] …`: any node flag (e.g. -e, --require) could run other code.
        if not rest or rest[0].startswith("-"):
            return (
                False,
                "'node' runs only a script named after an allowed tool without confirmation",
            )
        tool = _NODE_SCRIPT_EXT.sub("", posixpath.basename(rest[0]))
        if self._ok(tool):
            if self.workspace is not None:
                risk = self.workspace.script_risk("node", rest[0])
                if risk:
                    return False, risk
            elif not node_script_ok(rest[0]):
                return False, f"'node {rest[0]}' runs a script that is not an installed tool's"
            return True, f"'node {rest[0]}': '{tool}' is on planfirst.validation.allow"
        return False, f"'node {rest[0]}': " + self._not_listed(tool)

    def _package_manager(self, pm: str, rest: list[str]) -> tuple[bool, str]:
        if not rest:
            return False, f"'{pm}' with no subcommand needs confirmation (it may install packages)"
        sub = rest[0]
        if sub in _TEST_SCRIPT_NAMES:
            return True, f"'{pm} {sub}' runs the project's test script"
        if sub in ("run", "run-script", "exec") and len(rest) >= 2:
            target = rest[1]
            if target in _TEST_SCRIPT_NAMES or self._ok(target):
                return True, f"'{pm} {sub} {target}': '{target}' is allowed"
            return False, f"'{pm} {sub} {target}': " + self._not_listed(target)
        return (
            False,
            f"'{pm} {sub}' needs confirmation; only test, run/exec <allowed tool> are allowed",
        )

    def _npx(self, rest: list[str]) -> tuple[bool, str]:
        i = 0
        while i < len(rest) and rest[i] in ("--no-install", "--no", "--offline", "--quiet", "-q"):
            i += 1
        if i >= len(rest) or rest[i].startswith("-"):
            return False, "'npx' runs only an allowed tool without confirmation"
        tool = rest[i]
        if self._ok(tool):
            return True, f"'npx {tool}': '{tool}' is on planfirst.validation.allow"
        return False, f"'npx {tool}': " + self._not_listed(tool)


def refusal_advice(refused: str) -> str:
    """What the user can do about a command that was not run (`refused` is its reason)."""
    if NO_WAY_TO_ASK in refused:
        if "always needs confirmation" in refused or "runs a script" in refused:
            return (
                "This editor cannot answer planfirst's questions (window/showMessageRequest), and this "
                "command always needs an answer: revise the plan so the step validates with an allowed "
                "tool (e.g. `python -m pytest ...`), then retry the step."
            )
        return (
            "This editor cannot answer planfirst's questions (window/showMessageRequest): add the "
            "program to planfirst.validation.allow in your user or editor settings (workspace files "
            "cannot change it), or revise the plan to use an allowed tool, then retry the step."
        )
    return "Add its program to planfirst.validation.allow or confirm it, then retry the step."
