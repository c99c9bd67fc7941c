"""The lifecycle under faults and crashes (the lifecycle's share of bench/chaos.py's checks): a
`plmigrate wave --to ...` process SIGKILLed at seeded points of its Site Recovery writes, then
run again, and runs under the fault profiles: every server ends at the target, recorded, with
exactly one protected item, no test VM left over and one VM per migrated server."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from plmigrate.sandbox.faultprofiles import PROFILES, apply
from tests.pipeline.conftest import ROOT
from tests.pipeline.test_lifecycle import INVENTORY, SR_TYPES, migration, register, run, scenario

SIX = ["fin-web-01", "fin-web-02", "fin-app-01", "fin-sql-01", "fin-batch-01", "fin-hv-erp-01"]
ITEM_TYPE = SR_TYPES + "/replicationProtectionContainers/replicationProtectedItems"
SEED = 9


def sr_writes(box: Any) -> int:
    return sum(
        r["count"]
        for r in box.world.call_report()["calls"]
        if r["method"] in {"PUT", "POST", "PATCH", "DELETE"} and r["resource_type"].startswith(SR_TYPES)
        and r["status"] < 400
    )  # fmt: skip


def world_findings(box: Any) -> dict[str, Any]:
    """Duplicates in what Azure holds: items per discovered machine, VMs per name."""
    items = box.world.by_type(ITEM_TYPE)
    per_machine = Counter(
        (i["properties"].get("providerSpecificDetails") or {}).get("fabricDiscoveryMachineId", i["name"]).lower()
        for i in items
    )
    vms = [v["name"] for v in box.world.by_type("Microsoft.Compute/virtualMachines")]
    return {
        "items": sorted(i["name"] for i in items),
        "duplicate_items": [m for m, n in per_machine.items() if n > 1],
        "test_vms": sorted(v for v in vms if v.endswith("-test")),
        "duplicate_vms": [v for v, n in Counter(vms).items() if n > 1],
        "vms": sorted(vms),
    }


def cli(args: list[str], env: dict[str, str], log: Path, kill_when: Any = None) -> tuple[int | None, dict | None]:
    """`python -m plmigrate ...` in its own process group; SIGKILLed as soon as `kill_when()`."""
    out = log.with_suffix(".json")
    with out.open("wb") as stdout, log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "plmigrate", *args, "--json"], stdout=stdout, stderr=stderr, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if kill_when is not None and kill_when():
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return None, None
            time.sleep(0.05)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"{args} did not end in 300 s: {log.read_text()[-2000:]}")
    try:
        return process.returncode, json.loads(out.read_text())
    except ValueError:
        return process.returncode, None


def _env(tmp_path: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return os.environ | {
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(tmp_path / "results"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def test_a_lifecycle_killed_at_seeded_points_resumes_without_duplicates(world, business_unit, tmp_path) -> None:
    box = world(scenario())
    info = tmp_path / "info.json"
    box.info.write(info)
    bu = business_unit(migration=migration())
    run(bu, f"sandbox:{info}")  # the landing zone, in-process
    register(box, bu)
    env = _env(tmp_path)
    common = [str(bu), "wave-01", "--inventory", INVENTORY, "--sandbox", str(info), "--servers", ",".join(SIX)]

    # Six servers to tested take 18 Site Recovery writes (enable, test failover, cleanup): kill
    # after the k-th, k seeded and rising, so kills land in every step.
    for i, k in enumerate(sorted(random.Random(SEED).sample(range(1, 17), 3))):
        code, _ = cli(
            ["wave", *common, "--to", "tested"], env, tmp_path / f"kill-{i}.log", lambda k=k: sr_writes(box) >= k
        )
        assert code is None, f"kill {i} after write {k}: the run ended first ({code})"
        found = world_findings(box)
        assert found["duplicate_items"] == [] and found["duplicate_vms"] == [], (i, found)
    code, report = cli(["wave", *common, "--to", "tested"], env, tmp_path / "tested.log")
    assert code == 0 and report is not None, (tmp_path / "tested.log").read_text()[-3000:]
    assert {s["server"]: s["stage"] for s in report["servers"]} == dict.fromkeys(SIX, "tested")
    assert report["counts"]["tested"] == 6
    found = world_findings(box)
    assert found["items"] == sorted(SIX) and found["test_vms"] == [] and found["duplicate_items"] == []

    # Cutover of two, killed after its first failover was accepted, then resumed.
    two = ["--servers", "fin-web-01,fin-web-02", "--change", "CHG-9"]
    cutover = [str(bu), "wave-01", "--inventory", INVENTORY, "--sandbox", str(info), "--to", "migrated", *two]
    before = sr_writes(box)
    code, _ = cli(["wave", *cutover], env, tmp_path / "cut-kill.log", lambda: sr_writes(box) >= before + 1)
    assert code is None
    code, report = cli(["wave", *cutover], env, tmp_path / "cut.log")
    assert code == 0, (tmp_path / "cut.log").read_text()[-3000:]
    assert {s["server"]: s["stage"] for s in report["servers"]} == {"fin-web-01": "migrated", "fin-web-02": "migrated"}
    found = world_findings(box)
    assert [v for v in found["vms"] if not v.endswith("-test")] == ["fin-web-01", "fin-web-02"]
    assert found["duplicate_vms"] == [] and found["duplicate_items"] == []
    # 2 failovers + 2 commits, each once, whatever the kill interrupted.
    assert sr_writes(box) - before == 4


@pytest.mark.parametrize("profile", ["429-storm", "5xx"])
def test_the_lifecycle_under_a_fault_profile_ends_as_without_faults(world, business_unit, tmp_path, profile) -> None:
    box = world(apply(PROFILES[profile], scenario()))
    info = tmp_path / "info.json"
    box.info.write(info)
    bu = business_unit(migration=migration())
    run(bu, f"sandbox:{info}")
    register(box, bu)
    report = run(bu, f"sandbox:{info}", to="tested", servers=SIX)
    assert {s.server: s.stage for s in report.lifecycle.servers} == dict.fromkeys(SIX, "tested"), [
        (s.server, s.stage, s.reason) for s in report.lifecycle.servers
    ]
    found = world_findings(box)
    assert found["items"] == sorted(SIX) and found["test_vms"] == [] and found["duplicate_items"] == []
    if profile == "429-storm":
        assert box.world.call_report()["throttled"] > 0  # the storm did hit the run
