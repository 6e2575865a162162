"""The utterance trace: the pure stage log, and one real traced cell (kernel shell, real server, espeak)."""
from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from contextlib import redirect_stdout
from typing import Any

import pytest
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import eleven_nb
from eleven_nb import trace
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.jupyter.widget import Player
from eleven_nb.server.app import build_state
from tests.conftest import ThreadedServer


# --- the pure parts ------------------------------------------------------------------------


def test_a_stage_keeps_its_first_time_and_rows_are_in_time_order():
    t = trace.Trace()
    t.mark("b", 1010.0)
    t.mark("a", 1000.0)
    t.mark("a", 1500.0)  # again: ignored
    t.mark("c", 1032.5)
    assert t.stages == {"a": 1000.0, "b": 1010.0, "c": 1032.5}
    assert [(r.stage, r.since_start_ms, r.step_ms) for r in t.rows()] == [
        ("a", 0.0, 0.0), ("b", 10.0, 10.0), ("c", 32.5, 22.5)]


def test_rows_from_an_origin_before_every_stage():
    listed = trace.rows({"x": 105.0, "y": 120.0}, origin=100.0)
    assert [(r.since_start_ms, r.step_ms) for r in listed] == [(5.0, 5.0), (20.0, 15.0)]


def test_the_table_lines_up_and_says_when_it_is_empty():
    text = trace.table(trace.rows({"kernel: magic parsed": 0.0, "server: first audio frame sent": 41.25}))
    lines = text.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1
    assert lines[3].startswith("server: first audio frame sent") and "41.2 ms" in lines[3]
    assert trace.table([]) == "(no stages recorded)"


def test_merge_adds_a_prefix_and_keeps_earlier_stages():
    t = trace.Trace()
    t.mark("b: one", 5.0)
    t.merge({"one": 9.0, "two": 7.0}, prefix="b: ")
    assert t.stages == {"b: one": 5.0, "b: two": 7.0}


def test_off_records_nothing():
    trace.OFF.mark("anything")
    trace.OFF.merge({"x": 1.0})
    assert trace.OFF.stages == {} and not trace.OFF.on


def test_the_stage_log_keeps_the_last_traces_by_key():
    log = trace.StageLog(size=2)
    log.record(1).mark("s", 1.0)
    log.record(2).mark("s", 2.0)
    log.record(3).mark("s", 3.0)
    assert log.find(1) is None and log.find(2) == {"s": 2.0} and log.find(3) == {"s": 3.0}
    log.record(2)  # the same key again (a reused port): a fresh trace
    assert log.find(2) == {} and log.find(3) == {"s": 3.0}


def test_enabled_follows_the_environment(monkeypatch):
    for value, expected in (("1", True), ("yes", True), ("0", False), ("off", False), ("", False)):
        monkeypatch.setenv(trace.ENV, value)
        assert trace.enabled() is expected
    monkeypatch.delenv(trace.ENV)
    assert not trace.enabled()


def test_a_job_claims_the_trace_its_magic_started_in_the_same_thread(monkeypatch):
    monkeypatch.setenv(trace.ENV, "1")
    started = trace.start("magic parsed")
    seen: list[trace.Trace] = []
    other = threading.Thread(target=lambda: seen.append(trace.claim()))
    other.start()
    other.join()
    assert seen[0] is not started and seen[0].stages == {}  # another thread's job starts its own
    assert trace.claim() is started and trace.last() is started
    assert trace.claim() is not started  # taken once
    monkeypatch.setenv(trace.ENV, "0")
    assert trace.start("x") is trace.OFF and trace.claim() is trace.OFF


def test_the_cells_request_time_comes_from_its_header_and_leads_the_trace(monkeypatch):
    import datetime
    import types

    import IPython

    from eleven_nb.jupyter import tracing

    made = datetime.datetime(2026, 12, 2, 6, 30, 0, 123000, tzinfo=datetime.timezone.utc)
    header: dict = {"date": made}  # jupyter_client gives a datetime; an ISO string is read too
    kernel = types.SimpleNamespace(get_parent=lambda channel: {"header": header})
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=kernel))
    assert tracing.request_sent_ms() == made.timestamp() * 1000
    header["date"] = "2026-12-02T06:30:00.123Z"
    assert tracing.request_sent_ms() == made.timestamp() * 1000
    header.clear()
    assert tracing.request_sent_ms() is None  # no date, or no kernel: no stage
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert tracing.request_sent_ms() is None
    monkeypatch.setenv(trace.ENV, "1")
    trace.cell_started(requested_at=made.timestamp() * 1000)
    started = trace.start("kernel: magic parsed")
    assert list(started.stages) == [trace.REQUEST_SENT, trace.CELL_STARTED, "kernel: magic parsed"]
    assert trace.claim() is started


# --- one traced cell, end to end ----------------------------------------------------------------


class SentPlayer(Player):
    """A real player whose messages to the browser are kept instead of going to a comm."""

    made: list[SentPlayer] = []

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.sent: list[dict] = []
        SentPlayer.made.append(self)

    def send(self, content, buffers=None):  # type: ignore[override]
        self.sent.append(content)


@pytest.fixture
def traced_server(monkeypatch):
    monkeypatch.setenv(trace.ENV, "1")  # before the app is made: the /debug/trace route exists only then
    threaded = ThreadedServer(build_state("espeak"))
    yield threaded.server
    threaded.stop()


def run_cell(server_url: str, cell: str) -> SpeechExtension:
    ext = SpeechExtension(eleven_nb.AsyncClient(base_url=server_url), player_class=SentPlayer)
    shell = start_ipython() or get_ipython()
    ext.register(shell)
    SentPlayer.made.clear()
    result = shell.run_cell(f"%%speak --wait\n{cell}")  # a whole cell: IPython's cell events fire too
    assert result.success, result.error_in_exec
    return ext


def test_a_traced_cell_records_every_kernel_and_server_stage_in_order(traced_server):
    ext = run_cell(traced_server.url, "Hello there. This is traced.")
    try:
        job = ext.history[-1]
        stages = job.trace.stages
        order = ["kernel: cell started", "kernel: magic parsed", "kernel: job queued", "kernel: job started",
                 "kernel: connecting", "kernel: socket connected", "kernel: first text queued on the socket",
                 "server: first text received", "server: engine starts first phrase",
                 "server: engine ends first phrase", "server: first audio frame sent",
                 "kernel: first audio frame received", "kernel: first audio frame decoded",
                 "kernel: first chunk widget.send"]
        assert [s for s in order if s not in stages] == []
        times = [stages[s] for s in order]
        assert times == sorted(times), dict(zip(order, times))
        assert times[-1] - times[0] < 30_000  # one clock: all within the cell's own few seconds
        sent = SentPlayer.made[-1].sent
        assert sent[-1] == {"type": "trace", "stages": stages}  # the player gets it, after "done"
        assert trace.last() is job.trace
        out = io.StringIO()
        with redirect_stdout(out):
            get_ipython().run_line_magic("speak_trace", "")
        assert "server: engine ends first phrase" in out.getvalue()
        with redirect_stdout(out := io.StringIO()):
            get_ipython().run_line_magic("speak_trace", "--json")
        assert json.loads(out.getvalue()) == stages
    finally:
        ext.stop()


def test_tracing_off_adds_no_route_and_sends_no_trace(monkeypatch):
    monkeypatch.setenv(trace.ENV, "0")
    threaded = ThreadedServer(build_state("espeak"))
    try:
        ext = run_cell(threaded.server.url, "Not traced.")
        assert ext.history[-1].trace is trace.OFF
        assert all(m["type"] != "trace" for m in SentPlayer.made[-1].sent)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{threaded.server.url}/debug/trace?port=1", timeout=5)
        assert info.value.code == 404
        ext.stop()
    finally:
        threaded.stop()

