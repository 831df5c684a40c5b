"""A tracking server that is slow to answer (a loaded machine, a server just restarted) is not
taken for one that is down; a refused connection still fails at once."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from finelabel.stages.ray_session import free_port
from finelabel.tracking import outage


def _slow_first_answer(delay: float, asked: list[float]) -> type[BaseHTTPRequestHandler]:
    """A handler whose first answer waits ``delay`` seconds; ``asked`` counts the requests."""

    class SlowFirstAnswer(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            asked.append(time.monotonic())
            if len(asked) == 1:
                time.sleep(delay)
            try:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")
            except OSError:
                pass  # the client that gave up on this answer has gone

        def log_message(self, *args):
            pass

    return SlowFirstAnswer


def test_a_slow_first_answer_is_waited_for(monkeypatch):
    monkeypatch.setattr(outage, "HEALTH_TIMEOUT_S", 0.5)
    monkeypatch.setattr(outage, "HEALTH_BUDGET_S", 10.0, raising=False)
    asked: list[float] = []
    # the first answer waits past the health check's timeout
    server = ThreadingHTTPServer(("127.0.0.1", 0), _slow_first_answer(2.0, asked))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outage.check_reachable(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert len(asked) >= 2  # the slow first answer was given up on, and the server asked again


def test_a_refused_connection_fails_at_once():
    started = time.monotonic()
    with pytest.raises(outage.TrackingUnavailable, match="does not answer"):
        outage.check_reachable(f"http://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < outage.HEALTH_TIMEOUT_S
