"""`python -I -m planfirst.core.commands.exec_child SPEC`: run one validation command from a spec file.

Used when a client's terminal runs a step's validation (ACP `terminal/create`): the client
starts this small program, which reads the command and the environment planfirst decided on
from a private file, deletes it, and `exec`s the command — argv without a shell, the scrubbed
environment, whatever the client's own environment holds (docs/reliability.md cases 3 and 11).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Read the spec, show the command, exec it; 127 when it cannot be run."""
    if len(argv) != 1:
        print("usage: python -m planfirst.core.commands.exec_child SPEC", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    finally:
        path.unlink(missing_ok=True)
    command = [str(a) for a in spec["argv"]]
    env = {str(k): str(v) for k, v in spec["env"].items()}
    print(f"$ {shlex.join(command)}", flush=True)
    try:
        os.chdir(spec["cwd"])
        os.execvpe(command[0], command, env)
    except OSError as e:
        print(f"planfirst: cannot run {command[0]!r}: {e.strerror or e}", flush=True)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
