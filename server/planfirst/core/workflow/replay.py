"""Stored run and undo records are checked like model output before they are replayed
(docs/reliability.md case 24).

Resuming an applied step writes its recorded `after` text to disk; undoing a step writes its
recorded `before` text back. Those records live in plan.json, which planfirst seals (plan/origin.py),
but a record is still checked before anything is written from it: each path must resolve inside
the workspace (the path guard), must not be a secret or excluded file, and a file that configures
tools or editors needs the user's own confirmation, exactly as when the edit was first proposed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from planfirst.core.workflow.contracts import Host, SessionError
from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard


@dataclass
class ReplayCheck:
    """What a stored record may write: refusals (with reasons) and files that need confirmation."""

    refused: list[str] = field(default_factory=list)
    trust: list[str] = field(default_factory=list)

    def refusal(self, what: str) -> str:
        """The message for a record with refused paths."""
        return f"{what} names {'; '.join(self.refused)}; nothing was written from it"


def check_replay(
    guard: WorkspaceGuard, paths: Iterable[str], is_trust_file: Callable[[str], object]
) -> ReplayCheck:
    """Check every path a stored record would write."""
    out = ReplayCheck()
    for p in sorted(paths):
        try:
            guard.resolve(p)
        except PathError as e:
            out.refused.append(f"{p!r} ({e})")
            continue
        why = guard.excluded(p)
        if why:
            out.refused.append(f"{p!r} ({why})")
        elif is_trust_file(p):
            out.trust.append(p)
    return out


async def confirm_replay(
    guard: WorkspaceGuard, host: Host, paths: Iterable[str], writes: Iterable[str], what: str
) -> None:
    """Refuse a record naming a path outside the workspace or a secret/excluded file (`paths`:
    everything it names); ask before it writes a file that configures tools or editors (`writes`:
    what it would actually write now). Raises SessionError when refused or not confirmed."""
    from planfirst.core.workspace.trust import needs_confirmation  # the one trust policy (case 31)

    check = check_replay(guard, paths, needs_confirmation)
    if check.refused:
        raise SessionError(check.refusal(what), "refused")
    trust = [p for p in check.trust if p in set(writes)]
    if trust and not await host.confirm(
        f"Replaying {what} writes {', '.join(trust)}, which can configure tools and editors. Allow?"
    ):
        raise SessionError(f"replaying {what} was not confirmed ({', '.join(trust)})", "refused")
