"""Imported first by the task server (the first `PRELOAD` entry): the server ends with the
runner that started it, even while it still imports the rest (seconds, or more under load);
after that, multiprocessing's own pipe to the runner ends it."""

from __future__ import annotations

import os
import select
import threading
import time

PARENT_ENV = "CHURNOPS_TASK_SERVER_PARENT"  # the runner's pid, set before it starts the server


def _exit_with(pid: int) -> None:
    try:
        handle = os.pidfd_open(pid)  # readable once the process has ended
        select.select([handle], [], [])
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): poll
        while os.getppid() == pid:
            time.sleep(0.5)
    os._exit(0)


# Only in the server a runner started: anywhere else this import does nothing.
if os.environ.get(PARENT_ENV) == str(os.getppid()):
    threading.Thread(
        target=_exit_with, args=(os.getppid(),), name="churnops-runner-watch", daemon=True
    ).start()
