"""Progress of a long run, for whoever watches in this process (the CLI's progress line).

The wave flow reports here as groups of servers are recorded, and the lifecycle once per poll
cycle with how many servers stand at each stage; the Prefect UI gets the same figures through a
progress artifact whose description is `Progress.line()`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

SEPARATOR = " · "


@dataclass(frozen=True)
class Progress:
    """`done` of `total` servers have arrived (`what` says where); `counts`: servers per stage (or
    readiness state), in the order to show them; `title`: which run this is."""

    done: int
    total: int
    counts: Mapping[str, int] = field(default_factory=dict)
    what: str = "servers recorded"
    title: str = ""

    def line(self) -> str:
        """One line: "wave-01 to replicated: replicating 812 · replicated 180 · blocked 8 (180/1000 at replicated)"."""
        shown = SEPARATOR.join(f"{stage} {n}" for stage, n in self.counts.items() if n)
        head = f"{self.title}: " if self.title else ""
        figures = f"{self.done}/{self.total} {self.what}"
        return f"{head}{shown} ({figures})" if shown else f"{head}{figures}"


Listener = Callable[[Progress], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener(progress)` on every report; returns the unsubscribe function."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def report(
    done: int, total: int, counts: Mapping[str, int] | None = None, what: str = "servers recorded", title: str = ""
) -> Progress:
    """Tell every listener; returns what was told (the lifecycle puts its line on the artifact)."""
    update = Progress(done, total, dict(counts or {}), what, title)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(update)
    return update
