"""The retry policy every Azure-calling task shares, and the deadlines every wait honours.

azure-core already retries 408/429/5xx inside a call and honours `Retry-After` (within the
business unit's `timeouts.operation_seconds`: see `plmigrate.azure.DeadlineRetryPolicy`); a
task-level retry covers what it cannot: a long-running operation that ended Failed for a platform
reason, or a connection that stayed down past azure-core's attempts. A caller's mistake
(validation, 403, a conflict) and a deadline that passed (`StepFailed`) fail at once.

`finish` waits for a long-running operation no longer than the deadline; `read_settled` waits
for one a crashed run left running, no longer either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.polling import LROPoller
from prefect import Task
from prefect.client.schemas.objects import State, TaskRun
from prefect.utilities.timeout import timeout

from plmigrate.azure import is_transient
from plmigrate.errors import StepFailed


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
    get 409 AnotherOperationInProgress, and judging it half-made would be premature. Past
    `timeout_seconds` the step fails, saying what is still running."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        found = read()
        state = ((found or {}).get("properties") or {}).get("provisioningState", "Succeeded")
        if found is None or state in SETTLED:
            return found
        if time.monotonic() >= deadline:
            raise StepFailed(
                step="wait for a running operation",
                resource=found.get("id", "?"),
                reason=f"it was still {state} after {timeout_seconds:.0f} s (an operation another run or "
                "person started is still running on it)",
                fix="check its operation in the Azure portal (Activity log); re-run once it has finished, or raise "
                "timeouts.operation_seconds in the business-unit file if such operations take longer",
            )
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))


def finish(poller: LROPoller[Any], timeout_seconds: float, *, step: str, resource: str) -> Any:
    """The result of a long-running operation, waited for at most `timeout_seconds` (the business
    unit's `timeouts.operation_seconds`). An operation still running then fails the step, saying
    which one: the wave must not hang on it silently. (ARM keeps running it; the next run finds
    the resource mid-operation and waits for it through `read_settled`.)"""
    poller.wait(timeout=timeout_seconds)
    if not poller.done():
        status = poller.status()
        raise StepFailed(
            step=step,
            resource=resource,
            reason=f"its long-running operation was still {status} after {timeout_seconds:.0f} s",
            fix="check the operation in the Azure portal (the resource's Activity log); re-run once it has "
            "finished (nothing is written twice), or raise timeouts.operation_seconds in the business-unit file "
            "if such operations take longer here",
        )
    return poller.result()


class _RunTimeout(TimeoutError):
    pass


@contextmanager
def run_deadline(seconds: float, what: str) -> Iterator[None]:
    """The flow run's own deadline (the business unit's `timeouts.run_seconds`): past it the run
    fails with a StepFailed instead of staying Running. Each wait inside it has a shorter deadline
    of its own that names what was still running; this one is the backstop. Use in the flow body,
    in the thread the flow runs in."""
    try:
        with timeout(seconds, timeout_exc_type=_RunTimeout):
            yield
    except _RunTimeout:
        raise StepFailed(
            step="run",
            resource=what,
            reason=f"the run took longer than timeouts.run_seconds ({seconds:.0f} s)",
            fix="see which task runs were still Running in the Prefect UI; re-run (nothing is written twice), or "
            "raise timeouts.run_seconds in the business-unit file",
        ) from None
