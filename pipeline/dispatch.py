"""The local dispatcher: a process pool on this machine, one worker per core by default.

Each worker builds its recognition context once (``pipeline.worker.init``) and reuses it.
When a worker dies (killed, out of memory, a crash in native code) the pool is broken:
every job in it is reported ``Crashed`` and a new pool is started on the next submit.
Telling the guilty document from the innocent ones is the service's job (it re-runs
them one at a time).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pipeline import worker
from pipeline.config import Config
from pipeline.ports import Crashed, Job, Outcome

log = logging.getLogger(__name__)


def default_workers(cfg: Config) -> int:
    return cfg.service.workers or len(os.sched_getaffinity(0))


class LocalPool:
    def __init__(self, cfg: Config, wake: threading.Event | None = None, workers: int = 0):
        self._cfg = cfg
        self._wake = wake
        self.workers = workers or default_workers(cfg)
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: dict[Future[Outcome], Job] = {}
        self.limit = self.workers

    def capacity(self) -> int:
        return max(0, self.limit - len(self._jobs))

    def in_flight(self) -> int:
        return len(self._jobs)

    def submit(self, job: Job) -> None:
        if self._pool is None:
            # spawn, not fork: the service has threads (file events), and a forked child
            # would inherit their locks in whatever state they were.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker.init,
                initargs=(self._cfg,),
            )
        fut = self._pool.submit(worker.work, job)
        self._jobs[fut] = job
        if self._wake is not None:
            wake = self._wake
            fut.add_done_callback(lambda _f: wake.set())

    def collect(self) -> list[Outcome | Crashed]:
        out: list[Outcome | Crashed] = []
        broken = False
        for fut in [f for f in self._jobs if f.done()]:
            job = self._jobs.pop(fut)
            try:
                out.append(fut.result())
            except BrokenProcessPool:
                broken = True
                out.append(Crashed(job.document_id))
            except Exception as exc:  # the job could not even be run (pickling, spawn)
                log.error("document %d could not be run: %r", job.document_id, exc)
                out.append(
                    Outcome(
                        job.document_id,
                        error_code="internal_error",
                        error_message=f"the worker could not run it: {type(exc).__name__}",
                    )
                )
        if broken:
            log.error("a worker process died; restarting the pool")
            for fut, job in list(self._jobs.items()):
                fut.cancel()
                out.append(Crashed(job.document_id))
            self._jobs.clear()
            self._shutdown(wait=False)
        return out

    def close(self) -> None:
        self._shutdown(wait=True)

    def _shutdown(self, *, wait: bool) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
            self._pool = None
