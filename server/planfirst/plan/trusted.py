"""What a plan file on disk is worth: parsed within planfirst's limits, checked against the
schema, and trusted only with a valid, current seal (split from plan/store.py).

A plan planfirst did not seal loads as a foreign draft (`foreign`): a repository cannot ship an
approved plan or a step history to replay (docs/reliability.md case 24), nor an older state of a
plan planfirst wrote here (case 38).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import ValidationError

from planfirst.plan import origin
from planfirst.plan.files import StoreError
from planfirst.plan.model import MAX_PLAN_STEPS, Finding, Plan, PlanStatus, StepState, Usage


def foreign(plan: Plan, message: str = origin.UNTRUSTED_MESSAGE) -> Plan:
    """A plan planfirst did not seal, made harmless: a draft without status, step history, results
    or review of its own, and an error finding so that approving it is an explicit decision. It
    starts from the user's settings and zero spent (#29): the author's execution model, spending
    and estimate are not the user's; what the author recorded is said in the finding, and the
    revision history (text, feedback, what each revision changed) stays as the author wrote it."""
    authored = origin.authored(plan)
    plan.status = PlanStatus.DRAFT
    plan.steps = [StepState(order=s.order) for s in plan.body.steps]
    plan.final_validation = []
    plan.diagnosis = None
    plan.confidence = {}
    plan.provenance.critique = None
    plan.execution_model = None
    plan.usage = Usage()
    plan.extra_spent = 0.0  # nor its diagnoses and revisions after approval
    plan.estimate = None
    plan.findings = [
        Finding(
            rule=origin.UNTRUSTED_RULE,
            severity="error",
            message=message + (f" ({authored})" if authored else ""),
        )
    ]
    return plan


# A plan file holding more JSON values (and keys) than any plan planfirst writes is refused
# before json.loads builds them: a shipped 60 MB plan.json of tiny objects (`[{"a":0},…]`) made
# tens of millions of Python objects, about 1.5 GB at every start-up (docs/reliability.md case
# 42). A step holds about 30 values in the plan's body and state; each of its runs about 60, 16
# more a check and 3 a file it edited; a file's text is one value however long. A step run the
# full 10 attempts of maxAttempts with 5 checks on 5 files holds about 1,750; the largest plan
# of tests/test_redteam_plan_values.py (1,000 steps run three times) 342,000 in all. The bound
# is over the whole plan, so a plan of fewer steps may spend it on any step. At the bound the
# values cost json.loads about 120 MB (666,000 one-key objects).
VALUES_PER_STEP = 2_000


def max_plan_values() -> int:
    """The most JSON values (keys included) a plan file may hold (read at the time of the call:
    the step limit can be raised for a test)."""
    return MAX_PLAN_STEPS * VALUES_PER_STEP


_OPENERS = "[{,:"  # every value but the document's own, and every key, follows one of them
_CHUNK = 1 << 18  # characters counted at a time: the pieces of one chunk are all it holds
_BACKSLASHES = re.compile(r"\\*")


def _separators(text: str) -> int:
    return sum(text.count(c) for c in _OPENERS)


def count_values(raw: str, limit: int) -> int:
    """At least as many as the values and keys json.loads makes of `raw` (one for every `[ { , :`
    outside strings, and the document; an empty container counts one too many), counted until
    the count is over `limit`, in time linear in the text's length, and in memory of one chunk
    of it however many strings or escapes it holds. A text that is not JSON may be counted
    wrongly only after the place where json.loads fails, which it makes nothing after."""
    n, inside, a = 1, False, 0
    while a < len(raw) and n <= limit:
        b = min(a + _CHUNK, len(raw))
        if b < len(raw) and raw[b - 1] == "\\":
            # a run of backslashes and the character after it stay in one chunk
            b = min(_BACKSLASHES.match(raw, b).end() + 1, len(raw))  # type: ignore[union-attr]
        # a run of backslashes pairs from its left as JSON reads escapes: without the pairs,
        # a backslash left escapes the next character; without escaped quotes, every quote
        # opens or closes a string
        text = raw[a:b].replace("\\\\", "").replace('\\"', "")
        pieces = text.split('"')
        n += _separators("".join(pieces[1 if inside else 0 :: 2]))
        inside ^= len(pieces) % 2 == 0
        a = b
    return n


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # an escape of a UTF-16 surrogate (maybe paired)


def _encodable(data: object) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True


def parse(
    root: Path, plan_id: str, path: Path, raw: str, role: str = origin.PLAN
) -> tuple[Plan, bool]:
    """The plan in `raw` (read from `path`), and whether it is trusted (else it is made
    `foreign`); StoreError naming the file when it is not a plan."""
    limit = max_plan_values()
    # the separators in strings too first: most plan files have far fewer than the bound
    if 1 + _separators(raw) > limit and count_values(raw, limit) > limit:
        # refused before json.loads builds it (case 42); a string is one value however long
        raise StoreError(
            f"{path} holds over {limit:,} JSON values (outside its strings), more than any plan "
            f"of planfirst's {MAX_PLAN_STEPS:,} steps at most holds; it was left untouched (a "
            "repository may have shipped it to exhaust memory) — delete it"
        )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise StoreError(
            f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
            "it was left untouched — fix or delete it"
        ) from None
    except (ValueError, RecursionError) as e:  # an integer of 5,000 digits, deep nesting
        raise StoreError(
            f"{path} is not JSON planfirst reads ({type(e).__name__}: {str(e)[:120]}); "
            "it was left untouched (a repository may have shipped it) — fix or delete it"
        ) from None
    body = data.get("body") if isinstance(data, dict) else None
    steps = body.get("steps") if isinstance(body, dict) else None
    if isinstance(steps, list) and len(steps) > MAX_PLAN_STEPS:
        # refused before any work on it: a shipped plan of 20,000 steps must not stall the
        # server (docs/reliability.md case 42)
        raise StoreError(
            f"{path} has {len(steps)} steps, over planfirst's limit of {MAX_PLAN_STEPS} steps "
            "for a plan; it was left untouched (a repository may have shipped it to slow "
            "planfirst down) — delete it, or split the work into smaller plans"
        )
    if _SURROGATE.search(raw) and not _encodable(data):
        # a lone surrogate escape ("\\ud800") parses and validates, but planfirst can neither
        # seal nor save such a plan (pydantic refuses to serialise it); planfirst never writes
        # escapes for non-ASCII text, so this costs nothing on its own files
        raise StoreError(
            f"{path} holds a lone UTF-16 surrogate escape (not text); it was left untouched"
        )
    given = data.pop(origin.SEAL_KEY, None) if isinstance(data, dict) else None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise StoreError(
            f"{path} does not match the plan schema ({loc}: {first['msg']}); it was left untouched"
        ) from None
    if plan.id != plan_id:
        raise StoreError(
            f"{path} holds plan {plan.id!r}, expected {plan_id!r}; it was left untouched"
        )
    # sealed over its text (since #32), or over its data (the plans written before)
    if not (
        origin.verify_text(root, plan_id, raw, given, role)
        or origin.verify(root, plan_id, data, given, role)
    ):
        return foreign(plan), False
    if role == origin.PLAN and origin.is_stale(
        root, plan_id, str(given), plan.revision, plan.provenance.updated_at
    ):
        return foreign(plan, origin.STALE_MESSAGE), False
    return plan, True
