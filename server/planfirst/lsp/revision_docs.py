"""Comparing revisions in the editor: `planfirst.diffPlan` opens the unified diff of two
revisions of a plan (a `planfirst:` virtual document where the client serves them, else a file
beside the plan opened with `window/showDocument`), and the plan document gets a "Compare with
revision N-1" code lens.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from planfirst.core.workflow import revisions
from planfirst.lsp import convert
from planfirst.plan.model import Plan
from planfirst.plan.revision_text import review_text

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session
    from planfirst.lsp.server import PlanfirstServer

log = logging.getLogger("planfirst")

DIFF_COMMAND = "planfirst.diffPlan"
_DIFF_URI = re.compile(
    r"^planfirst:/plans/([a-z0-9][a-z0-9-]{0,80})/revision-(\d{1,6})-(\d{1,6})\.diff$"
)


def diff_uri(plan_id: str, from_rev: int, to_rev: int) -> str:
    """The virtual document URI of the diff between two revisions of a plan."""
    return f"planfirst:/plans/{plan_id}/revision-{from_rev}-{to_rev}.diff"


_REVISION_URI = re.compile(r"^planfirst:/plans/([a-z0-9][a-z0-9-]{0,80})/revision-(\d{1,6})\.md$")


def revision_uri(plan_id: str, revision: int) -> str:
    """The read-only document of one revision's reviewable text (for a side-by-side compare)."""
    return f"planfirst:/plans/{plan_id}/revision-{revision}.md"


def content(server: PlanfirstServer, uri: str) -> str | None:
    """The text of a revision diff document, or of one revision's reviewable text (the two sides
    of a side-by-side compare); None: `uri` is neither."""
    session = server.session
    one = _REVISION_URI.match(uri)
    if one is not None and session is not None:
        plan = session.load(one.group(1))
        return review_text(revisions.load_revision(session.store, plan, int(one.group(2))))
    m = _DIFF_URI.match(uri)
    if m is None or server.session is None:
        return None
    _plan, _a, _b, text = revisions.compare(
        server.session, m.group(1), int(m.group(2)), int(m.group(3))
    )
    return text or "(the two revisions read the same)\n"


async def open_diff(
    server: PlanfirstServer,
    session: Session,
    plan_id: str | None,
    from_rev: int | None,
    to_rev: int | None,
) -> dict[str, Any]:
    """Show the diff of two revisions; returns its URI, the revisions and the diff text."""
    plan, a, b, text = revisions.compare(session, plan_id, from_rev, to_rev)
    if server.caps.content_documents:
        uri = diff_uri(plan.id, a, b)
    else:
        uri = convert.path_to_uri(session.store.write_diff(plan.id, a, b, text))
    if server.caps.show_document:
        try:
            await server.window_show_document_async(
                types.ShowDocumentParams(uri=uri, take_focus=True)
            )
        except Exception as e:  # the answer still carries the diff
            log.info("could not show %s: %r", uri, e)
    return {"planId": plan.id, "from": a, "to": b, "uri": uri, "diff": text}


def lenses(plan: Plan, rng: types.Range) -> list[types.CodeLens]:
    """ "Compare with revision N-1" on a plan that has an earlier revision."""
    if plan.revision < 2:
        return []
    prev = plan.changes.from_revision if plan.changes else plan.revision - 1
    return [
        types.CodeLens(
            range=rng,
            command=types.Command(
                title=f"⇄ Compare with revision {prev}",
                command=DIFF_COMMAND,
                arguments=[{"planId": plan.id, "from": prev, "to": plan.revision}],
            ),
        )
    ]
