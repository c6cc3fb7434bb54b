"""One protocol source (issue #31): lsp/protocol.py names every command with its params and
result; lsp/app.py advertises exactly those; the extension's protocol.ts holds the block generated
from it (rust-analyzer's lsp_ext.ts tidy check); every planfirst error is one PlanfirstError that
the LSP face maps once, with its code in `data.reason`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from planfirst.core.workflow.session import SessionError
from planfirst.core.workspace.path_syntax import PathError, ReadRefused
from planfirst.errors import PlanfirstError
from planfirst.llm.model import BudgetStop, ModelError
from planfirst.lsp import app, protocol
from planfirst.lsp.features import REQUEST_FAILED, parse_args, to_jsonrpc
from planfirst.plan.store import StoreError, UnknownPlan

PROTOCOL_TS = Path(__file__).resolve().parents[1] / "editor-client" / "src" / "protocol.ts"


def test_protocol_ts_is_generated_from_the_python_source() -> None:
    text = PROTOCOL_TS.read_text(encoding="utf-8")
    assert protocol.BEGIN in text and protocol.END in text, "protocol.ts lost its generated block"
    assert protocol.splice(text) == text, (
        "editor-client/src/protocol.ts drifted from server/planfirst/lsp/protocol.py: run "
        "`python -m planfirst.lsp.protocol --write editor-client/src/protocol.ts`"
    )


def test_the_generated_block_names_every_command_with_its_params() -> None:
    ts = protocol.typescript()
    for name in protocol.COMMANDS:
        assert f"'{name}': [" in ts, name
    # what the old hand-written copy lacked
    assert "'planfirst.diffPlan': [DiffParams, DiffResult]" in ts
    assert "'planfirst.applyPreview': [PreviewParams, PreviewDecision]" in ts
    assert "'planfirst.discardPreview': [PreviewParams, PreviewDecision]" in ts
    assert "steps?: (number | string)[];" in ts  # revisePlan's `steps`


def test_app_advertises_the_protocol_commands() -> None:
    assert app.COMMANDS == tuple(protocol.COMMANDS)
    assert set(app.load_features().commands) == set(protocol.COMMANDS)


def test_params_are_validated_strictly_against_the_source() -> None:
    assert parse_args(
        "planfirst.retryStep", protocol.StepParams, ({"planId": "p", "step": 2},)
    ) == {
        "planId": "p",
        "step": 2,
    }
    for bad in ({"step": "2"}, {"step": 0}, {"planID": "p"}, {"planId": "x" * 201}):
        with pytest.raises(JsonRpcInvalidParams, match="invalid arguments"):
            parse_args("planfirst.retryStep", protocol.StepParams, (bad,))
    got = parse_args("planfirst.diffPlan", protocol.DiffParams, ({"from": 1, "to": 2},))
    assert got == {"from": 1, "to": 2}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (SessionError("the plan is busy", "busy"), "busy"),
        (SessionError("refused"), "refused"),
        (ModelError("no key", kind="auth"), "auth"),
        (ModelError("slow down", kind="rate_limit", retryable=True), "rate_limit"),
        (BudgetStop("over the cap"), "budget"),
        (StoreError(".planfirst is a symbolic link"), "store"),
        (UnknownPlan("no plan x"), "unknown_plan"),
    ],
)
def test_every_planfirst_error_maps_to_request_failed_with_its_reason(
    error: PlanfirstError, reason: str
) -> None:
    assert isinstance(error, PlanfirstError) and error.code == reason
    rpc = to_jsonrpc(error)
    assert rpc.code == REQUEST_FAILED
    assert rpc.data == {"reason": reason}
    assert str(rpc.message).startswith("planfirst: ") and error.message in str(rpc.message)


def test_a_bad_path_is_invalid_params_with_its_reason() -> None:
    for error in (PathError("../x is outside the workspace"), ReadRefused(".env", "secret")):
        assert isinstance(error, ValueError)  # callers that catch ValueError still do
        rpc = to_jsonrpc(error)
        assert isinstance(rpc, JsonRpcInvalidParams)
        assert rpc.data == {"reason": "path"}
