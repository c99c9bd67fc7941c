"""The flow process's start-up objects are kept out of the garbage collector's full collections."""

from __future__ import annotations

import subprocess
import sys


def _in_fresh_interpreter(code: str) -> str:
    # A fresh interpreter: this test process's own freeze (any flow run before it) would hide
    # whether the call freezes anything.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_start_up_objects_are_frozen_once_per_process() -> None:
    out = _in_fresh_interpreter(
        "import gc; import flows.private_link\n"
        "from plmigrate.runtime import freeze_startup_objects\n"
        "assert gc.get_freeze_count() == 0\n"
        "freeze_startup_objects(); frozen = gc.get_freeze_count()\n"
        "assert frozen > 10_000, frozen\n"
        "junk = [[] for _ in range(1000)]\n"
        "freeze_startup_objects(); assert gc.get_freeze_count() == frozen  # once\n"
        "print('ok', frozen)\n"
    )
    assert out.startswith("ok ")


def test_objects_made_after_the_freeze_are_still_collected() -> None:
    out = _in_fresh_interpreter(
        "import gc\n"
        "from plmigrate.runtime import freeze_startup_objects\n"
        "freeze_startup_objects()\n"
        "class Cycle: pass\n"
        "a = Cycle(); a.me = a; del a\n"
        "assert gc.collect() >= 1\n"
        "print('ok')\n"
    )
    assert out.startswith("ok")
