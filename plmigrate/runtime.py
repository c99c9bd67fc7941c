"""The process a flow run lives in, and what plmigrate settles in it before a run's work starts."""

from __future__ import annotations

import functools
import gc


@functools.cache
def freeze_startup_objects() -> None:
    """Take every object alive now out of the cyclic garbage collector's view, once per process.

    At a flow's start these are the imported modules of Prefect, pydantic and the Azure SDK and
    the engine's own state (about 243,000 objects): they live as long as the process, yet each full
    collection walks them all, about 0.12 s with every thread stopped (0.19 s on a busy machine).
    One landed in the landing zone's first second, on its critical path (docs/performance.md).
    Objects made afterwards are collected as before; garbage not yet collected at this moment is
    kept, which is little right after start-up (gc.freeze, Python's documentation). Nothing is
    counted here: gc.get_freeze_count() walks them all (~30 ms)."""
    gc.freeze()
