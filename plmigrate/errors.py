"""plmigrate's own domain errors: what the CLI turns into exit codes and the flows into failed states.

```
PlmigrateError            anything plmigrate itself decided was wrong (exit 1)
 ├── InputError           bad input: a business-unit file, a wave inventory (exit 2); nothing was written
 ├── TargetUnavailable    the target does not answer (a stopped sandbox, a missing info file) (exit 2)
 └── StepFailed           a pipeline step could not finish (exit 1): which step, on what, why, and the fix
```

Azure SDK errors (azure-core's `HttpResponseError` and friends) are not wrapped: a task that knows what
a failure means raises `StepFailed` with the ARM code in `reason`; anything else propagates as it is.
Both classes survive pickling (Prefect persists exceptions in failed states).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["InputError", "PlmigrateError", "StepFailed", "TargetUnavailable", "format_problems"]


class PlmigrateError(Exception):
    """Base of plmigrate's domain errors; `exit_code` is what the CLI exits with."""

    exit_code: int = 1


class InputError(PlmigrateError):
    """The input is invalid; `problems` lists each as "field.path: what is wrong — fix"."""

    exit_code = 2

    def __init__(self, problems: Sequence[str] | str, source: str | None = None) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        super().__init__(format_problems(self.problems, source))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems, self.source))


class TargetUnavailable(PlmigrateError):
    """The target cannot be reached before anything starts: say so and how to start it, at once."""

    exit_code = 2


class StepFailed(PlmigrateError):
    """A pipeline step failed: `step` (e.g. "verify_dns"), `resource` (an ARM ID or FQDN), `reason`, `fix`."""

    exit_code = 1

    def __init__(self, step: str, resource: str, reason: str, fix: str = "") -> None:
        self.step, self.resource, self.reason, self.fix = step, resource, reason, fix
        message = f"{step} failed for {resource}: {reason}"
        if fix:
            message += f"\nFix: {fix}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.resource, self.reason, self.fix))


SHOWN_PROBLEMS = 50  # more is a wall of text nobody reads; the first ones are what to fix first


def format_problems(problems: Iterable[str], source: str | None = None, shown: int = SHOWN_PROBLEMS) -> str:
    """One line naming the input and how many problems it has, then one "- problem" line each,
    at most `shown` of them and a line saying how many more there are."""
    problems = list(problems)
    what = source or "input"
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"{what}: {len(problems)} {noun}:", *(f"  - {problem}" for problem in problems[:shown])]
    if len(problems) > shown:
        lines.append(f"  - … and {len(problems) - shown} more problems: fix these and run again to see the rest")
    return "\n".join(lines)
