"""docs/reliability.md case 45: the model-facts cache is data from outside. End to end through
LSP: the user's `$XDG_CACHE_HOME/planfirst/model-facts.json` holds an entry whose `fetched_at` is
not a number, one whose facts are nonsense (a negative output limit, capabilities that are a
string) and one good entry, and it is readable by everyone. Planning still works (the bad entries
are ignored, the model's facts asked afresh), the file is rewritten without them, keeps the good
one, and is private to the user (0600); a cache path that is a symlink is replaced, never written
through."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

from planfirst.llm.catalog import DEFAULT_PLANNING_MODEL
from planfirst.llm.facts import FactsCache
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command


async def test_case_45_a_malformed_facts_cache_is_ignored_and_rewritten(
    ws: Path, inv: Invariants
) -> None:
    srv = inv.scripted_server([plan_turn(one_step_plan(["true"]))])
    cache_home = inv.tmp / "cache"
    inv.beside.add("cache")
    path = cache_home / "planfirst" / "model-facts.json"
    path.parent.mkdir(parents=True)
    now = time.time()  # fresh: nothing here is dropped for its age
    planning_key = FactsCache.key(srv.base_url, DEFAULT_PLANNING_MODEL)
    good_key = FactsCache.key("https://gateway.example", "claude-sonnet-5-5")
    other_key = FactsCache.key(srv.base_url, "claude-sonnet-5-5")
    good = {"fetched_at": now, "info": {"id": "claude-sonnet-5-5", "max_tokens": 1000}}
    path.write_text(
        json.dumps(
            {
                planning_key: {"fetched_at": "yesterday", "info": {"id": DEFAULT_PLANNING_MODEL}},
                other_key: {
                    "fetched_at": now,
                    "info": {"id": "x", "max_tokens": -5, "capabilities": "all"},
                },
                good_key: good,
                "not an entry": [1, 2, 3],
            }
        )
    )
    path.chmod(0o644)
    async with serve(inv, ws, srv, env={"XDG_CACHE_HOME": str(cache_home)}) as (client, _e, _l):
        result = await command(client, "planfirst.generatePlan", {"task": "Document --top"})
        assert result["planId"]
    assert len(srv.requests) == 1 and srv.failures == []
    # the planning model's facts were asked afresh (its cached entry was unreadable)
    assert any(r.path == f"/v1/models/{DEFAULT_PLANNING_MODEL}" for r in srv.side_requests)
    data = json.loads(path.read_text())
    assert set(data) == {good_key, planning_key}
    assert data[good_key] == good
    assert isinstance(data[planning_key]["fetched_at"], float)
    assert data[planning_key]["info"]["id"] == DEFAULT_PLANNING_MODEL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_case_45_a_planted_fifo_or_symlink_is_never_read_and_is_replaced(
    tmp_path: Path, inv: Invariants
) -> None:
    """A FIFO in the cache's place froze every model call (reading it blocks until a writer
    comes); a symlink was read through. Neither is opened; writing replaces them."""
    inv.beside.add("xdg")
    path = tmp_path / "xdg" / "planfirst" / "model-facts.json"
    path.parent.mkdir(parents=True)
    key = FactsCache.key(None, "claude-sonnet-5-5")
    os.mkfifo(path)
    cache = FactsCache(path)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(cache.get(key)), daemon=True)
    reader.start()
    reader.join(5)
    frozen = reader.is_alive()
    if frozen:  # release the blocked reader: a writer that closes at once
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
    assert not frozen, "reading the facts cache blocked on a FIFO"
    assert got == [None]
    cache.put(key, {"id": "claude-sonnet-5-5"})
    assert stat.S_ISREG(os.lstat(path).st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600
    target = inv.sentinel / "config"
    path.unlink()
    os.symlink(target, path)
    assert cache.get(key) is None
    cache.put(key, {"id": "claude-sonnet-5-5"})
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert target.read_text() == "untouched\n"  # the sentinel invariant checks it too
