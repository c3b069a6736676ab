"""The local dispatcher: a process pool on this machine, one worker per core by default.

Each worker builds its recognition context once (``pipeline.service.worker.init``) and reuses it.
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
from typing import Any

from pipeline.config import Config
from pipeline.errors import Reason
from pipeline.ports import Crashed, Job, Outcome
from pipeline.service import worker

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
        # Processes of retired pools, made sure of at close.
        self._leftovers: list[Any] = []

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
                        error_code=Reason.INTERNAL_ERROR,
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
        """Stop the workers (the service calls this when no job is in flight). A worker
        that does not end within a few seconds is killed: an idle worker has nothing to
        lose, and one blocked on a lock a killed sibling held would never end."""
        if self._pool is not None:
            self._leftovers.extend(_processes(self._pool))
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        for proc in self._leftovers:
            proc.join(timeout=10)
            if proc.is_alive():
                log.warning("worker %s did not stop; killing it", proc.pid)
                proc.kill()
                proc.join(timeout=5)
        self._leftovers.clear()
        self._broken.clear()

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
        self._leftovers.extend(_processes(pool))
        pool.shutdown(wait=False, cancel_futures=True)
        if pool is self._pool:
            self._pool = None


def _processes(pool: ProcessPoolExecutor) -> list[Any]:
    # The executor keeps its processes in a private dict; there is no public way to
    # make sure they are gone.
    return list((getattr(pool, "_processes", None) or {}).values())
