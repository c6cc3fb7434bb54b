"""The seal over plan.json's text (#32: the seal over the plan's data canonicalised every run's
file texts at every save): it covers the bytes written (unicode, odd floats, non-finite floats
that pydantic writes as null) for one role, workspace and plan; plans sealed over their data
before it load as they did; and a save of a plan this store holds does not parse the previous
version again."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import time
from pathlib import Path

import pytest

from planfirst.plan import held as held_mod
from planfirst.plan import origin
from planfirst.plan.model import Plan, PlanStatus
from planfirst.plan.store import PlanStore
from tests.support.plan_fixtures import make_plan


def reference_seal(root: Path, plan_id: str, text: str, role: str) -> str:
    """The seal as planfirst computed it before #32, written out independently: the HMAC of the
    role, the workspace's real path, the plan id and json.loads(text) dumped sorted, compact."""
    body = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    tag = {origin.PLAN: b"planfirst-plan-v1", origin.REVISION: b"planfirst-revision-v1"}[role]
    msg = b"\0".join([tag, os.path.realpath(root).encode(), plan_id.encode(), body.encode()])
    return hmac.new(origin.user_key(), msg, hashlib.sha256).hexdigest()


ODD_FLOATS = [
    0.1 + 0.2,
    1e16,
    1e-7,
    -0.0,
    5e-324,
    1.7976931348623157e308,
    123456789012345680.0,
    2.5,
]
TEXTS = [
    "plain",
    "Ünïcödé — naïve café, 日本語, emoji 🧪🚀, RTL שלום",
    "line\u2028separator\u2029and \x7f del, \x00 nul, \t tab, \x1b escape",
    'quotes " and \\ backslash and </script>',
    "",
]


def plans() -> list[Plan]:
    out = []
    for i, (value, text) in enumerate(zip(ODD_FLOATS, TEXTS * 2, strict=False)):
        plan = make_plan()
        plan.task = text or "t"
        plan.body.summary = text
        plan.body.steps[0].description = f"{text} {i}"
        plan.usage.cost_usd = value
        plan.usage.calls = 2**40 + i
        plan.confidence = {"score": value, "nested": [value, {"é": text, "n": None}], "i": 10**20}
        out.append(plan)
    for bad in (math.inf, -math.inf, math.nan):  # pydantic writes null into the text
        plan = make_plan()
        plan.usage.cost_usd = bad
        plan.confidence = {"x": bad}
        out.append(plan)
    return out


def reference_text_seal(root: Path, plan_id: str, head: str, role: str) -> str:
    """The seal planfirst writes since #32, written out independently: the HMAC of the role,
    the workspace's real path, the plan id and the file's text before the seal member."""
    tag = {origin.PLAN: b"planfirst-plan-text-v2", origin.REVISION: b"planfirst-revision-text-v2"}
    msg = b"\0".join([tag[role], os.path.realpath(root).encode(), plan_id.encode(), head.encode()])
    return hmac.new(origin.user_key(), msg, hashlib.sha256).hexdigest()


def _split(sealed: str) -> tuple[str, str]:
    """(the text before the seal member, the seal)."""
    data = json.loads(sealed)
    mark = data[origin.SEAL_KEY]
    member = f',\n  "{origin.SEAL_KEY}": "{mark}"\n}}\n'
    assert sealed.endswith(member)  # appended as the last member, the text before it kept
    return sealed[: -len(member)], mark


@pytest.mark.parametrize("role", [origin.PLAN, origin.REVISION])
def test_the_seal_covers_the_text_as_written(tmp_path: Path, role: str) -> None:
    loose = make_plan()  # values a JSON dump turns into other types: a tuple, non-str keys
    loose.confidence = {"t": (1, 2.5), "keys": {1: "x", 2.5: "y", None: 0}, "big": 10**30}
    other = origin.PLAN if role == origin.REVISION else origin.REVISION
    for plan in [*plans(), loose]:
        text = plan.model_dump_json(indent=2)
        sealed = origin.sealed_text(tmp_path, plan.id, text, role)
        head, mark = _split(sealed)
        assert head == text.rstrip()[:-1].rstrip()  # the text as pydantic wrote it
        assert mark == reference_text_seal(tmp_path, plan.id, head, role)
        assert origin.verify_text(tmp_path, plan.id, sealed, mark, role)
        # a checkout that turns the line endings into CRLF keeps it trusted
        assert origin.verify_text(tmp_path, plan.id, sealed.replace("\n", "\r\n"), mark, role)
        # any other byte changed, or the same data written otherwise, is not what was sealed
        data = json.loads(sealed)
        reformatted = json.dumps(data, indent=4, ensure_ascii=False)
        assert not origin.verify_text(tmp_path, plan.id, reformatted, mark, role)
        edited = sealed.replace('"revision": 1', '"revision": 2', 1)
        assert edited != sealed
        assert not origin.verify_text(tmp_path, plan.id, edited, mark, role)
        assert not origin.verify_text(tmp_path, plan.id, sealed + "{}", mark, role)
        assert not origin.verify_text(tmp_path, "other-0a1b2c", sealed, mark, role)
        assert not origin.verify_text(tmp_path / "elsewhere", plan.id, sealed, mark, role)
        # a plan.json is no kept revision, nor the other way round
        assert not origin.verify_text(tmp_path, plan.id, sealed, mark, other)


def test_a_plan_sealed_over_its_data_before_still_loads_trusted(tmp_path: Path) -> None:
    """Plans written before #32 carry the seal over their data: they load as they did."""
    for plan in plans()[: len(ODD_FLOATS)]:  # the finite ones: a null cost does not validate
        plan.status = PlanStatus.APPROVED
        text = plan.model_dump_json(indent=2)
        old = origin.sealed_json(tmp_path, plan.id, text)
        data = json.loads(old)
        assert data[origin.SEAL_KEY] == reference_seal(tmp_path, plan.id, text, origin.PLAN)
        path = PlanStore(tmp_path).plan_json(plan.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(old, encoding="utf-8")
        loaded = PlanStore(tmp_path).load(plan.id)
        assert loaded.status == PlanStatus.APPROVED  # a foreign plan would be a draft
        assert loaded.confidence == plan.confidence
        # reformatted, its data unchanged: the seal over the data still holds
        path.write_text(json.dumps(data, indent=4), encoding="utf-8")
        assert PlanStore(tmp_path).load(plan.id).status == PlanStatus.APPROVED


def test_a_plan_saved_with_odd_values_loads_back_trusted_and_equal(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    for plan in plans()[: len(ODD_FLOATS)]:  # the finite ones: a null cost does not validate
        plan.status = PlanStatus.APPROVED
        st.save(plan)
        st.settle(plan.id)
        text = st.plan_json(plan.id).read_text(encoding="utf-8")
        head, mark = _split(text)
        assert mark == reference_text_seal(tmp_path, plan.id, head, origin.PLAN)
        fresh = PlanStore(tmp_path)  # nothing held: read from disk, seal checked
        loaded = fresh.load(plan.id)
        assert loaded.status == PlanStatus.APPROVED  # a foreign plan would be a draft
        assert loaded.usage.cost_usd == plan.usage.cost_usd
        assert loaded.confidence == plan.confidence
        # the same data written otherwise (an editor's format on save) is a hand edit
        path = st.plan_json(plan.id)
        path.write_text(json.dumps(json.loads(text), indent=4), encoding="utf-8")
        again = PlanStore(tmp_path).load(plan.id)
        assert again.status == PlanStatus.DRAFT
        assert again.findings[0].rule == origin.UNTRUSTED_RULE


def test_saving_a_held_plan_again_does_not_parse_the_version_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan, render_md=False)
    parsed: list[int] = []
    copy = held_mod.Held.copy

    def counted(self: held_mod.Held) -> Plan:
        parsed.append(1)
        return copy(self)

    monkeypatch.setattr(held_mod.Held, "copy", counted)
    for n in range(3):  # transitions of one step, plan.md not written in between
        plan.body.summary = f"transition {n}"
        st.save(plan, durable=False, render_md=False)
    assert parsed == []
    st.flush_md(plan.id)
    assert "transition 2" in st.plan_md(plan.id).read_text(encoding="utf-8")


def test_a_plan_changed_after_a_background_save_is_sealed_as_it_was_saved(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    plan.status = PlanStatus.APPROVED
    plan.confidence = {"nested": [1, {"k": "before"}]}
    st.save(plan, durable=False, render_md=False, wait=False)  # sealed on the writer's thread
    plan.confidence["nested"][1]["k"] = "after"  # the caller goes on with its plan at once
    plan.body.summary = "changed after the save"
    st.settle(plan.id)
    loaded = PlanStore(tmp_path).load(plan.id)
    assert loaded.status == PlanStatus.APPROVED  # the seal covers exactly what was written
    assert loaded.confidence == {"nested": [1, {"k": "before"}]}
    assert loaded.body.summary != "changed after the save"


def _rewrite_key_in_place(path: Path, key: bytes) -> None:
    """Another key of the same size written over the key file's bytes, its mtime put back."""
    st = path.stat()
    with open(path, "r+", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )


def test_a_key_file_rewritten_with_the_same_size_and_mtime_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team (#32): the key kept by the key file's identity must not outlive the file's
    bytes. A key replaced in place (the same size, the mtime put back with os.utime: only the
    ctime tells) is the key from then on: plans are sealed and checked with it."""
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(
        origin, "RACY_NS", 0, raising=False
    )  # the key is kept at once (the window: below)
    first = origin.user_key()
    assert origin.user_key() == first
    time.sleep(0.05)  # past the filesystem's timestamp tick: the rewrite's ctime differs
    assert origin.user_key() == first  # kept now
    second = bytes(b ^ 0xFF for b in first)
    _rewrite_key_in_place(tmp_path / "data" / "origin.key", second)
    assert origin.user_key() == second


def test_a_key_file_rewritten_in_the_same_timestamp_tick_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team (#32): a key file written a moment ago may be rewritten within the same
    timestamp tick (its ctime unchanged too): such a file is read at every seal, not kept."""
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "data"))
    first = origin.user_key()
    assert origin.user_key() == first
    assert origin.user_key() == first
    second = bytes(b ^ 0xFF for b in first)
    _rewrite_key_in_place(tmp_path / "data" / "origin.key", second)
    assert origin.user_key() == second


def test_an_empty_or_short_key_file_is_never_used_as_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed between creating origin.key and writing it left an empty file, which
    was then read as the key: every seal an HMAC under an empty key, which anyone can compute
    (a repository could ship a plan "sealed" for this machine). Such a key file (empty, short,
    not hex) is replaced by a new key; the key is always 32 bytes."""
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    key_file = tmp_path / "data" / "origin.key"
    for bad in ["", "\n", "abcd\n", "zz" * 32 + "\n"]:
        key_file.write_text(bad)
        key = origin.user_key()
        assert len(key) == 32 and key != b"", bad
        assert origin.user_key() == key  # the new key is the one kept on disk
        assert bytes.fromhex(key_file.read_text().strip()) == key
    plan = make_plan()
    text = plan.model_dump_json(indent=2)
    sealed = origin.sealed_text(tmp_path, plan.id, text)
    forged_head = sealed[: sealed.rfind(",\n")]
    tag = b"planfirst-plan-text-v2"
    msg = b"\0".join(
        [tag, os.path.realpath(tmp_path).encode(), plan.id.encode(), forged_head.encode()]
    )
    forged = hmac.new(b"", msg, hashlib.sha256).hexdigest()
    assert not origin.verify_text(
        tmp_path, plan.id, sealed.replace(json.loads(sealed)["seal"], forged), forged
    )
