"""Hostile input for the hostile-input suite: payloads that a terminal would act on, run
files that carry them, and a local target on 127.0.0.1 that answers badly on purpose."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.runs import minimal_run

DATA = Path(__file__).parent.parent / "data" / "runs" / "session-leak"
BASELINE_RUN, OTHER_RUN = sorted(DATA.glob("*.json"))

# Clear the screen, set the window title, write the clipboard (OSC 52), ring the bell,
# a C1 CSI, a bidi override; then rich markup, one of which rich cannot even parse.
CLEAR = "\x1b[2J"
TITLE = "\x1b]0;owned\x07"
CLIPBOARD = "\x1b]52;c;aGk=\x07"
C1_CSI = "\x9b31m"
MARKUP = "[bold red]x[/]"
BROKEN_MARKUP = "[/x]"
ESCAPES = (CLEAR, TITLE, CLIPBOARD, C1_CSI, "\u202e")
# What none of the output may hold raw: any of these reached a terminal as a command.
RAW = [payload.encode() for payload in (CLEAR, "\x1b]", "\x07", "\x9b", "\u202e")]
BASELINE_LABEL = f"base{CLEAR}{MARKUP}"
OTHER_LABEL = f"new{TITLE}{CLIPBOARD}{BROKEN_MARKUP}{C1_CSI}"
ENDPOINTS = ("/api/v1/items/ [create]", "/api/v1/items/ [list]")
BORROWER = f'  File "/srv/app/crud.py{CLEAR}", line 9, in get{TITLE}\n    {MARKUP}{BROKEN_MARKUP}'


def crafted_run(source: Path, *, variant: str, **changes: Any) -> dict[str, Any]:
    """``source`` with its labels hostile and its endpoints named as Locust names them in
    brackets; ``changes`` set top-level fields."""
    data: dict[str, Any] = json.loads(source.read_text())
    data["scenario"] = f"scenario{CLIPBOARD}"
    data["variant"] = variant
    names = {"/items": ENDPOINTS[0], "/antipatterns/leak": ENDPOINTS[1]}
    for endpoint in data["locust"]["endpoints"]:
        endpoint["method"], endpoint["name"] = "POST", names[endpoint["name"]]
    data.update(changes)
    return data


def write_pair(directory: Path) -> tuple[Path, Path]:
    """Two run files with hostile labels and bracketed endpoint names."""
    paths = []
    for source, variant in ((BASELINE_RUN, BASELINE_LABEL), (OTHER_RUN, OTHER_LABEL)):
        path = directory / source.name
        path.write_text(json.dumps(crafted_run(source, variant=variant)))
        paths.append(path)
    return paths[0], paths[1]


def leaky_run_json() -> str:
    """A run whose leak report, check and names a hostile target could have put there."""
    run = minimal_run()
    data = json.loads(run.to_json())
    data["variant"] = OTHER_LABEL
    data["scenario"] = f"scenario{TITLE}{MARKUP}"
    data["check"] = {"passed": False, "verdict": f"NOT {MARKUP}{CLEAR}", "details": [TITLE]}
    pool = json.loads(OTHER_RUN.read_text())["pool"]
    pool["leak_reports"] = [
        {"route": f"/r{CLIPBOARD}{BROKEN_MARKUP}", "borrower": BORROWER, "age_seconds": 3.0}
    ]
    data["pool"] = pool
    return json.dumps(data)


def run_in_terminal(argv: Sequence[str], cwd: Path, *, timeout: float = 60) -> tuple[int, bytes]:
    """``argv`` in ``cwd`` with a pseudo-terminal of 80 columns as its stdin, stdout and
    stderr, so rich renders for a terminal; its exit code and everything it wrote."""
    import fcntl
    import struct
    import termios

    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TTY_COMPATIBLE")
    }
    environment["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        list(argv),
        stdin=child,
        stdout=child,
        stderr=child,
        env=environment,
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
    )
    os.close(child)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the child side is closed
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        else:
            raise AssertionError(f"{argv} still ran after {timeout} s: {bytes(output)!r}")
        return process.wait(timeout=10), bytes(output)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(main)


Answer = Callable[[BaseHTTPRequestHandler], None]


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    """A byte every 0.2 s, forever: each read succeeds, so no read timeout ever fires."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    while True:
        handler.wfile.write(b"#")
        handler.wfile.flush()
        time.sleep(0.2)


def _endless(handler: BaseHTTPRequestHandler) -> None:
    """A comment line after another with no end, as fast as the reader takes them."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    line = b"# " + b"0" * 1022 + b"\n"
    while True:
        handler.wfile.write(line * 64)


def _text(body: str, content_type: str = "text/plain") -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        data = body.encode()
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def metrics(pool: str = "main", *, size: str = "5", pending: str = "0") -> str:
    """A small exposition of one pool, its figures given as text (``+Inf``, ``NaN``)."""
    return (
        f'db_client_connection_idle_max{{pool="{pool}"}} {size}\n'
        f'db_client_connection_max{{pool="{pool}"}} 10\n'
        f'db_client_connection_count{{pool="{pool}",state="used"}} 1\n'
        f'db_client_connection_count{{pool="{pool}",state="idle"}} 4\n'
        f'db_client_connection_pending_requests{{pool="{pool}"}} {pending}\n'
        f'poolscope_pool_leaked_connections{{pool="{pool}"}} 1\n'
    )


def pool_answer() -> str:
    return json.dumps(
        {
            "pool": "main",
            "driver": f"psycopg{TITLE}",
            "state": {"timeout": 1e999},
            "checked_out": [
                {
                    "leaked": True,
                    "route": f"/r{CLIPBOARD}",
                    "borrower": BORROWER + "x" * 100_000,
                    "age_seconds": "soon",
                }
            ],
        }
    ).replace("Infinity", "1e999")


def _going_down() -> Answer:
    """Checkouts that fall with every read, as a target restarted between them shows."""
    counts = iter(range(1000, 0, -10))

    def answer(handler: BaseHTTPRequestHandler) -> None:
        body = metrics() + f'poolscope_pool_checkouts_total{{pool="main"}} {next(counts)}\n'
        _text(body)(handler)

    return answer


# A target that goes bad during a run: its first reads of /metrics are good (poolscope
# run reads it twice to inspect the target, once for the baseline, once as its first
# sample), every later one has no end.
GOOD_READS = 4


def _souring() -> Answer:
    reads = itertools.count()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if next(reads) < GOOD_READS:
            _text(metrics())(handler)
        else:
            _endless(handler)

    return answer


def _answers() -> dict[str, Answer]:
    """Each target's own answers: those that count their reads start from zero."""
    return {
        "/reset/metrics": _going_down(),
        "/trickle/metrics": _trickle,
        "/endless/metrics": _endless,
        "/huge/metrics": _text("# x\n" * (3 * 1024 * 1024)),  # 12 MiB of comments
        "/inf/metrics": _text(metrics(size="+Inf")),
        "/nan/metrics": _text(metrics(pending="NaN")),
        "/inf-pending/metrics": _text(metrics(pending="+Inf")),
        "/markup/metrics": _text(metrics()),
        "/markup/pool": _text(pool_answer(), "application/json"),
        "/trickle/pool": _trickle,
        "/souring/metrics": _souring(),
        "/souring/ok": _text("ok"),  # what a locustfile loads meanwhile
    }


class _Server(ThreadingHTTPServer):
    answers: dict[str, Answer]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        answer = self.server.answers.get(self.path.split("?")[0])
        if answer is None:
            self.send_error(404)
            return
        # The reader stopping is what it should do.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            answer(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def hostile_target() -> Iterator[str]:
    """The hostile target's base URL; each path prefix (``/trickle``, ``/endless``,
    ``/huge``, ``/inf``, ``/nan``, ``/markup``, ``/souring``) is a target of its own."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.answers = _answers()
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
