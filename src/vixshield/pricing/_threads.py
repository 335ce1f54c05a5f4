"""One process-wide thread pool for the vectorised kernels.

numpy ufuncs and ctypes calls release the GIL, so splitting a large array into chunks and
running them on threads uses every core without copying data to other processes. The pool
is made anew in a forked child, whose copy of the parent's pool has no threads and would
never run a task.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None
_executor_workers = 0
_executor_pid = 0
_executor_lock = threading.Lock()


def default_threads() -> int:
    """Cores this process may run on (``sched_getaffinity`` where available)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def pool(workers: int) -> ThreadPoolExecutor:
    """The process-wide pool with at least ``workers`` threads."""
    global _executor, _executor_workers, _executor_pid  # noqa: PLW0603 - one pool per process
    with _executor_lock:
        pid = os.getpid()
        if _executor is None or _executor_workers < workers or _executor_pid != pid:
            old = _executor if _executor_pid == pid else None
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vxs-kernel")
            _executor_workers, _executor_pid = workers, pid
            if old is not None:
                old.shutdown(wait=False)
        return _executor
