"""``--log-json``: nothing but JSON objects on stderr.

Text reaches stderr from places that never see our log handler: Python warnings, an
uncaught exception's traceback in a thread or the main thread, multiprocessing's own
messages from worker processes, C libraries (Tesseract, Leptonica, PDFium) writing to file
descriptor 2. So file descriptor 2 becomes a pipe whose lines are read by a thread and
logged as records of the ``stderr`` logger; warnings and uncaught exceptions are logged
directly (a traceback stays one record). The log handler itself writes to a copy of the
original stderr. Worker processes forked later inherit the pipe, so their text is caught too.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import sys
import threading
from types import TracebackType

log = logging.getLogger("stderr")


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    def handleError(self, record: logging.LogRecord) -> None:
        # The log stream itself broke (a collector went away): there is nowhere left to
        # say so, and writing the traceback to stderr would feed it back into the relay.
        pass


def capture_stderr() -> logging.Handler:
    """Route everything written to stderr through logging; returns the log handler to
    use, which writes to the original stderr."""
    sys.stderr.flush()
    original = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = io.TextIOWrapper(
        os.fdopen(2, "wb", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    closing = threading.Event()
    reader = threading.Thread(
        target=_relay, args=(read_end, closing), name="stderr-relay", daemon=True
    )
    reader.start()
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread

    def drain() -> None:
        # Relay what was written before exit; text written later (by the interpreter
        # shutting down) goes nowhere rather than out as a line that is not JSON.
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        reader.join(timeout=0.5)
        closing.set()

    atexit.register(drain)
    return _Handler(original)


def _relay(fd: int, closing: threading.Event) -> None:
    with os.fdopen(fd, "rb") as pipe:
        for raw in pipe:
            if closing.is_set():
                return
            line = raw.decode("utf-8", "backslashreplace").rstrip("\n")
            if line.strip():
                log.warning("%s", line)


def _uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("blankett").critical("uncaught %s", kind.__name__, exc_info=(kind, exc, tb))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "a thread"
    logging.getLogger("blankett").critical(
        "uncaught %s in %s",
        args.exc_type.__name__,
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
