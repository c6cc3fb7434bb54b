"""A message the server cannot send is logged once, and nothing is left to send after `exit`.

pygls reports a failed write by showing the error to the user, which is one more write: with
stdout closed (after `exit`, or when the editor went away) each failure reported the previous one,
about a thousand levels deep, each level logging a traceback as deep as itself. A plan refresh
still pending on `exit` started that chain while the process was ending: the server spent over a
minute of CPU before it could exit, which an editor restarting it sees as a hang (code-server
kills a server that takes more than 2 s to exit), and the test suite as time.
"""

from __future__ import annotations

import asyncio

from planfirst.lsp.server import PlanfirstServer


class ClosedStdout:
    """A writer whose stream is closed, as pygls's StdoutWriter after `exit`."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        raise ValueError("write to closed file")

    def close(self) -> None:
        pass


def _server() -> tuple[PlanfirstServer, ClosedStdout]:
    server = PlanfirstServer()
    writer = ClosedStdout()
    server.protocol.set_writer(writer)
    return server, writer


def test_a_failed_write_is_not_reported_by_another_write() -> None:
    server, writer = _server()
    server.protocol.notify("planfirst/status", {"planId": "p"})
    assert writer.writes == 1


async def test_shutdown_drops_pending_plan_refreshes() -> None:
    server, writer = _server()
    server.plan_changed("p")
    server.prepare_to_exit()
    server.plan_changed("q")  # a change after shutdown schedules nothing
    # not a wait for state: the loop runs timers in deadline order, so by the time this 0.2 s
    # timer fires, the 0.05 s refresh timer would have fired
    await asyncio.sleep(0.2)
    assert writer.writes == 0


async def test_shutdown_request_runs_the_same_preparation() -> None:
    server, writer = _server()
    server.plan_changed("p")
    for _ in server.protocol.lsp_shutdown():  # no user handler here: nothing to drive
        pass
    assert server.closing
    await asyncio.sleep(0.2)  # in deadline order, after the refresh timer (see above)
    assert writer.writes == 0
