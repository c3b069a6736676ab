"""The local dispatcher: a process pool on this machine, one worker per core by default.

Each worker builds its recognition context once (``pipeline.worker.init``) and reuses it.
When a worker dies (killed, out of memory, a crash in native code) its pool is broken:
every job in that pool is reported ``Crashed`` and a new pool is started on the next
submit. Telling the guilty document from the innocent ones is the service's job (it
re-runs them one at a time).
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
        # Each job with the pool it runs in: a broken pool fails only its own jobs.
        self._jobs: dict[Future[Outcome], tuple[Job, ProcessPoolExecutor]] = {}
        self._broken: list[ProcessPoolExecutor] = []

    def capacity(self) -> int:
        return max(0, self.workers - len(self._jobs))

    def in_flight(self) -> int:
        return len(self._jobs)

    def submit(self, job: Job) -> None:
        for _ in range(2):
            pool = self._current()
            try:
                fut = pool.submit(worker.work, job)
            except BrokenProcessPool:  # a worker died since the last collect
                self._retire(pool)
                continue
            break
        else:
            raise RuntimeError("cannot start worker processes")
        self._jobs[fut] = (job, pool)
        if self._wake is not None:
            wake = self._wake
            fut.add_done_callback(lambda _f: wake.set())

    def collect(self) -> list[Outcome | Crashed]:
        out: list[Outcome | Crashed] = []
        for fut in [f for f in self._jobs if f.done()]:
            job, pool = self._jobs.pop(fut)
            try:
                out.append(fut.result())
            except BrokenProcessPool:
                out.append(Crashed(job.document_id))
                self._retire(pool)
            except Exception as exc:  # the job could not even be run (pickling, spawn)
                log.error("document %d could not be run: %r", job.document_id, exc)
                out.append(
                    Outcome(
                        job.document_id,
                        error_code="internal_error",
                        error_message=f"the worker could not run it: {type(exc).__name__}",
                    )
                )
        # Jobs still listed in a retired pool are lost with it.
        for fut, (job, pool) in list(self._jobs.items()):
            if pool in self._broken:
                del self._jobs[fut]
                out.append(Crashed(job.document_id))
        if not any(pool in self._broken for _, pool in self._jobs.values()):
            self._broken.clear()
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _current(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the service has threads (file events), and a forked child
            # would inherit their locks in whatever state they were.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker.init,
                initargs=(self._cfg,),
            )
        return self._pool

    def _retire(self, pool: ProcessPoolExecutor) -> None:
        if pool in self._broken:
            return
        log.error("a worker process died; starting new workers")
        self._broken.append(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        if pool is self._pool:
            self._pool = None
