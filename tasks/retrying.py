"""The retry policy every Azure-calling task shares.

azure-core already retries 408/429/5xx inside a call and honours `Retry-After`; a task-level retry
covers what it cannot: a long-running operation that ended Failed for a platform reason, or a
connection that stayed down past azure-core's attempts. A caller's mistake (validation, 403, a
conflict) fails at once with its ARM code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun

from plmigrate.azure import is_transient


def retry_on_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by result()
        return is_transient(exc)
    return False


ARM_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [2, 5, 15],
    "retry_jitter_factor": 0.2,
    "retry_condition_fn": retry_on_transient,
}


# provisioningState values that mean no operation is running on the resource any more.
SETTLED = frozenset({"Succeeded", "Failed", "Canceled"})


def read_settled(
    read: Callable[[], dict[str, Any] | None], timeout_seconds: float = 900, poll_seconds: float = 5
) -> dict[str, Any] | None:
    """Read a resource (None when missing), waiting while an operation on it is still running
    (Creating, Updating, Deleting, ...), e.g. one that a crashed run started: a PUT over it would
    get 409 AnotherOperationInProgress, and judging it half-made would be premature."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        found = read()
        state = ((found or {}).get("properties") or {}).get("provisioningState", "Succeeded")
        if found is None or state in SETTLED or time.monotonic() >= deadline:
            return found
        time.sleep(poll_seconds)
