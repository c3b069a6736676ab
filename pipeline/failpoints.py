"""Named failpoints for fault-injection tests and the soak script.

``BLANKETT_FAILPOINTS="ingest.after_store=kill,deliver.write=enospc"`` makes the process
that reaches a named point kill itself with SIGKILL, or raise ``OSError(ENOSPC)``. With
``BLANKETT_FAILPOINTS_ONCE=DIR`` each point fires only once across all processes (a
marker file in DIR is created exclusively). Unset, ``hit`` is a dictionary lookup and
nothing else. The environment is read when a point is reached, never at import.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

ACTIONS = ("kill", "enospc")


def hit(name: str) -> None:
    spec = os.environ.get("BLANKETT_FAILPOINTS")
    if not spec:
        return
    action = dict(part.split("=", 1) for part in spec.split(",") if "=" in part).get(name)
    if action is None or not _first_time(name):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (failpoint {name})")


def _first_time(name: str) -> bool:
    once = os.environ.get("BLANKETT_FAILPOINTS_ONCE")
    if not once:
        return True
    try:
        fd = os.open(Path(once) / f"{name}.fired", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True
