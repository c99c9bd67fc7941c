"""Progress of a long run, for whoever watches in this process (the CLI's progress bar).

The wave flow reports here as groups of servers finish; the Prefect UI gets the same figures
through a progress artifact."""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[int, int], None]  # (done, total)

_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener(done, total)` on every report; returns the unsubscribe function."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def report(done: int, total: int) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(done, total)
