"""The worker side of the local process pool: one recognition context per process.

``init`` runs once in each worker process (templates, reference features, the OCR engine)
and ``work`` runs one document. Stopping is the service's decision: workers ignore
SIGINT (Ctrl-C reaches the whole process group), and SIGTERM (systemd sends it to the
whole group too) ends an idle worker at once but lets a busy one finish its document.
An idle worker must still die on SIGTERM: that is how the pool clears out a broken pool
whose survivors wait on a queue lock a killed worker held.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import dataclasses
import logging
import os
import signal
import threading
import time

from pipeline import failpoints
from pipeline.compose import open_context
from pipeline.config import Config
from pipeline.context import Context
from pipeline.errors import BlankettError, InputError, Reason
from pipeline.ports import Job, Outcome
from pipeline.run import read_file

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_HANDBACK_SECONDS = 2.0

# The state of this worker process; set by ``init`` and ``work``, never at import.
_ctx: Context | None = None
_busy = False
_stop_after_job = False


def init(cfg: Config) -> None:
    global _ctx
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    stack = contextlib.ExitStack()
    _ctx = stack.enter_context(open_context(cfg))
    atexit.register(stack.close)


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the service dies, even by SIGKILL: an orphaned
    worker would hold its memory and the service's pipes for ever."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pool notices a dead parent later
        return
    if os.getppid() != parent:  # the service died before prctl took effect
        os._exit(1)


def _on_sigterm(_signum: int, _frame: object) -> None:
    global _stop_after_job
    if _busy:
        _stop_after_job = True  # finish the document in hand; exit when asked for the next
    else:
        os._exit(0)


def work(job: Job) -> Outcome:
    global _busy
    assert _ctx is not None, "worker.init was not run in this process"
    if _stop_after_job:
        os._exit(0)  # the pool reports this job crashed; the service runs it again
    failpoints.hit("worker.process")
    _busy = True
    try:
        return run_job(job, _ctx)
    finally:
        _busy = False
        if _stop_after_job:
            # Asked to stop while busy: leave time to hand the outcome back, then go.
            threading.Timer(_HANDBACK_SECONDS, os._exit, args=(0,)).start()


def run_job(job: Job, ctx: Context) -> Outcome:
    """Read one document with ``ctx``; every failure becomes data on the outcome."""
    t0 = time.perf_counter()
    try:
        records = read_file(job.path, ctx, hint=job.template_hint)
    except InputError as exc:
        return _failed(job, exc, bad_input=True, t0=t0)
    except BlankettError as exc:
        return _failed(job, exc, bad_input=False, t0=t0)
    except Exception as exc:  # a bug: fail this document, keep the worker
        log.exception("internal error in document %d", job.document_id)
        err = BlankettError(f"unexpected error: {type(exc).__name__}", code=Reason.INTERNAL_ERROR)
        return _failed(job, err, bad_input=False, t0=t0)
    named = tuple(dataclasses.replace(r, file=job.source) for r in records)
    return Outcome(job.document_id, records=named, seconds=time.perf_counter() - t0)


def _failed(job: Job, exc: BlankettError, *, bad_input: bool, t0: float) -> Outcome:
    return Outcome(
        job.document_id,
        error_code=exc.code,
        # The message names the store path; the operator knows the file by its inbox name.
        error_message=exc.message,
        bad_input=bad_input,
        seconds=time.perf_counter() - t0,
    )
