"""The saturation runs' pieces: the requests file, wrk's script and report, the stored-events check."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import _ceiling

WRK_REPORT = """\
Running 5s test @ http://127.0.0.1:41234/webhooks/line/7
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.05ms   1.02s    91.20%
    Req/Sec     3.61k   210.40     4.02k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.90ms
     90%    3.20ms
     99%    9.50ms
  36100 requests in 5.00s, 4.58MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 100
Requests/sec:   7220.00
Transfer/sec:    937.50KB
wrk-script {"sent": 36116, "loaded": 75016, "repeats": 0, "requests": 36100, "duration_us": 5000000, "non_2xx": 100, "p50_us": 812, "p99_us": 9500, "max_us": 1020000}
"""


def test_wrk_report_is_read_into_figures():
    figures = _ceiling.parse_wrk(WRK_REPORT)

    assert figures["generator"] == "wrk"
    assert (figures["requests"], figures["ok"], figures["non_2xx"]) == (36100, 36000, 100)
    assert figures["statuses"] == {"2xx": 36000, "non-2xx": 100}
    assert figures["socket_errors"] == {"connect": 0, "read": 2, "write": 0, "timeout": 1}
    assert figures["errors"] == 3
    assert figures["seconds"] == 5.0 and figures["wrk_rps"] == 7220.0
    assert figures["achieved_rps"] == 7200.0  # 2xx only
    assert (figures["p50_ms"], figures["p75_ms"], figures["p90_ms"], figures["p99_ms"]) == (
        0.81,
        1.9,
        3.2,
        9.5,
    )
    assert figures["max_ms"] == 1020.0
    assert (figures["sent"], figures["loaded"], figures["repeats"]) == (36116, 75016, 0)


def test_a_clean_wrk_report_has_no_errors():
    report = "\n".join(
        line for line in WRK_REPORT.splitlines() if "Socket errors" not in line and "Non-2xx" not in line
    )

    figures = _ceiling.parse_wrk(report)

    assert figures["ok"] == figures["requests"] == 36100
    assert figures["statuses"] == {"2xx": 36100} and figures["errors"] == 0 and figures["non_2xx"] == 0


def test_what_is_not_a_wrk_report_is_refused():
    with pytest.raises(ValueError, match="not a wrk report"):
        _ceiling.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_requests_file_round_trip(tmp_path):
    path = tmp_path / "requests"
    requests = [
        (
            "請問有 M 號嗎？".encode(),
            {"X-Line-Signature": "c2lnbmF0dXJl+/=", "Content-Type": "application/json"},
        ),
        (b"", {}),
        (b"line one\nline two\n", {"Authorization": "Basic a2V5Og=="}),
    ]

    assert _ceiling.write_requests(path, requests) == 3
    assert _ceiling.read_requests(path) == requests


@pytest.mark.parametrize("name, value", [("X-Bad", "two\nlines"), ("X:Bad", "v"), ("X-Bad\n", "v")])
def test_headers_that_would_break_the_file_are_refused(tmp_path, name, value):
    with pytest.raises(ValueError, match="cannot be written"):
        _ceiling.write_requests(tmp_path / "requests", [(b"{}", {name: value})])


def _figures(**overrides):
    return {"requests": 10, "ok": 10, "sent": 12, "repeats": 0, **overrides}


def test_every_event_of_every_2xx_stored_with_requests_still_in_flight():
    figures = _figures()

    _ceiling.check_stored(figures, stored=55, per_request=5)

    assert figures["no_loss"]
    assert (figures["events_expected"], figures["events_in_flight"]) == (50, 5)


def test_a_missing_event_is_a_loss():
    figures = _figures()

    _ceiling.check_stored(figures, stored=49, per_request=5)

    assert not figures["no_loss"] and figures["events_in_flight"] == 0


def test_more_events_than_were_sent_is_not_taken_for_no_loss():
    figures = _figures()

    _ceiling.check_stored(figures, stored=61, per_request=5)

    assert not figures["no_loss"]


def test_repeated_bodies_make_the_count_unreliable():
    figures = _figures(repeats=2)

    _ceiling.check_stored(figures, stored=50, per_request=5)

    assert not figures["no_loss"]


def test_without_wrk_the_python_generator_runs_and_says_why(monkeypatch):
    monkeypatch.setattr(_ceiling.shutil, "which", lambda name: None)
    said = []

    assert _ceiling.choose_generator(install=False, log=said.append) == "python"
    assert "Python load generator" in said[0] and "saturates before the bare app" in said[0]


def test_the_settled_count_waits_for_late_commits():
    counts = iter([3, 5, 5])

    assert _ceiling.settled_count(lambda: next(counts), quiet=0.01) == 5


# --- both generators against a small server --------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[bytes, str | None]]]]:
    """A keep-alive HTTP server recording every body with its X-Sig header; bodies ending in 7 get 503."""
    seen: list[tuple[bytes, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((body, self.headers.get("X-Sig")))
            self.send_response(503 if body.endswith(b"7") else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # wrk drops its connections when the time is up

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/batch", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _write(path: Path, count: int) -> None:
    _ceiling.write_requests(path, ((f"body-{n}".encode(), {"X-Sig": f"sig-{n}"}) for n in range(count)))


@pytest.mark.parametrize(
    "generator",
    [
        pytest.param("wrk", marks=pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")),
        "python",
    ],
)
def test_each_request_goes_once_with_its_own_headers(server, tmp_path, generator):
    url, seen = server
    _write(tmp_path / "requests", 5000)

    figures = _ceiling.saturate(url, tmp_path / "requests", seconds=1, connections=2, generator=generator)

    assert figures["generator"] == ("wrk" if generator == "wrk" else _ceiling.PYTHON_GENERATOR)
    assert figures["requests"] > 0 and figures["repeats"] == 0
    assert all(sig == "sig-" + body.decode().removeprefix("body-") for body, sig in seen)
    assert len({body for body, _ in seen}) == len(seen)  # none twice
    refused = sum(1 for body, _ in seen if body.endswith(b"7"))
    assert 0 < figures["non_2xx"] <= refused and figures["ok"] + figures["non_2xx"] == figures["requests"]


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_wrk_starts_over_when_the_bodies_run_out_and_counts_the_repeats(server, tmp_path):
    url, seen = server
    _write(tmp_path / "requests", 4)

    figures = _ceiling.run_wrk(url, tmp_path / "requests", seconds=1, connections=2)

    assert figures["loaded"] == 4 and figures["repeats"] == figures["sent"] - 4 > 0
    assert {body for body, _ in seen} == {b"body-0", b"body-1", b"body-2", b"body-3"}
