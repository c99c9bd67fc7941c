"""Benchmark: a wave of N servers taken `--to replicating`, then `status`, through Prefect, beside
a bare-SDK script making the same Site Recovery calls.

    .venv/bin/python -m bench.lifecycle --servers 1000 [--runs 3] [--skip-baseline]

Each run is a fresh process with a fresh in-process sandbox: bench/scenario.yaml (ARM-like
latencies, ARM's default throttling) plus the Site Recovery world: the appliance registered, N
discovered machines, an enable job of JOB_SECONDS, target and isolated test networks. The landing
zone and the wave's accounts are made first by bench/baseline.py (untimed), so both timed runs
start from the same converged landing zone; imports happen before either timer.

One Prefect server (`prefect server start`) serves every flow run; its start-up is excluded.

1. flow: `migration_wave(to="replicating")` (landing zone re-run, readiness, preflight, the enables
   in batches, polling the container's pages and the failed jobs until every enable job is done);
   then `flows.lifecycle.wave_status` (one read of every stage).
2. bare: the same lifecycle calls with the SDK client on a thread pool of `arm_concurrency`
   workers (setup, machines, VNets, N PUTs with polling off, then the container's pages and the
   failed jobs every poll interval until no item has a running job); then the same status read.

Both go through the client factory's ARM budget (the business unit's limits, here ARM's own
refill rates: 10 writes/s and 25 reads/s after a burst of 200). Printed per N (median of the runs
[min..max]): wall time against the ARM write-budget floor ((writes - 200) / 10 per second + the
job time + one poll interval), reads per status cycle, 429s, peak RSS. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench.common import (
    BUSINESS_UNIT,
    MIX,
    SCENARIO,
    WAVE,
    PrefectServer,
    import_lazy_modules,
    in_fresh_process,
    load_average,
    median_min_max,
    mib,
    peak_rss_bytes,
    redirect_output,
    write_inventory,
)

JOB_SECONDS = 10.0  # how long Site Recovery's enable job takes in the benchmark's world
POLL_SECONDS = 5.0
SUB = "00000000-0000-0000-0000-00000000a11e"
SR_LATENCIES = [
    {"method": "PUT", "resource_type": "Microsoft.RecoveryServices/vaults/replicationFabrics/"
     "replicationProtectionContainers/replicationProtectedItems", "seconds": 0.2},
]  # fmt: skip


def scenario_file(work: Path, n: int) -> Path:
    data = yaml.safe_load(SCENARIO.read_text())
    data["resource_groups"].append({"name": "rg-finance-servers", "location": "eastus"})
    data["virtual_networks"][0]["subnets"].append({"name": "snet-fin-app", "address_prefix": "10.20.11.0/24"})
    data["virtual_networks"].append(
        {"resource_group": "rg-finance-servers", "name": "vnet-finance-test", "location": "eastus",
         "address_prefixes": ["10.99.0.0/16"], "subnets": [{"name": "snet-fin-app", "address_prefix": "10.99.11.0/24"}]}
    )  # fmt: skip
    data["appliances"] = [
        {
            "name": "appliance-fin-01",
            "resource_group": "rg-migrate-finance",
            "machines": [{"name": f"srv-{i:05d}", "source_type": MIX[i % len(MIX)][0]} for i in range(n)],
        }
    ]
    data["site_recovery"] = {"enable_seconds": JOB_SECONDS, "initial_replication_seconds": 3600}
    data["latencies"] = data.get("latencies", []) + SR_LATENCIES
    path = work / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def business_unit_file(work: Path) -> Path:
    data = yaml.safe_load(BUSINESS_UNIT.read_text())
    data["approval"] = {"mode": "self_approve", "timeout_seconds": 600, "poll_seconds": 1, "pause_in_ui": False}
    data["limits"] = {"arm_concurrency": 8, "arm_reads_per_second": 25, "arm_writes_per_second": 10, "arm_burst": 200}
    data["migration"]["timeouts"] = {**data["migration"]["timeouts"], "poll_seconds": POLL_SECONDS}
    path = work / "bu.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _world(work: Path, n: int) -> tuple[Any, Any, list[Any], Path]:
    """A fresh sandbox with the converged landing zone and the appliance registered; its calls forgotten."""
    from bench.baseline import run_baseline
    from plmigrate.azure import Target
    from plmigrate.inventory import load_inventory
    from plmigrate.model import load_business_unit
    from plmigrate.sandbox import Sandbox, Scenario
    from plmigrate.sandbox.serve import AdminClient

    sandbox = Sandbox(Scenario.load(scenario_file(work, n)))
    sandbox.start()
    bu = load_business_unit(business_unit_file(work))
    servers = load_inventory(work / "wave.csv", bu, WAVE)
    run_baseline(Target.sandbox(sandbox.info).paced(bu.limits), bu, WAVE, servers, work)
    AdminClient(sandbox.info).register_appliance(bu.vault_id, "appliance-fin-01")
    sandbox.world.forget_calls()
    info = work / f"sandbox-{os.getpid()}.json"
    sandbox.info.write(info)
    return sandbox, bu, servers, info


def _counts(sandbox: Any) -> dict[str, int]:
    report = sandbox.world.call_report()
    return {"reads": report["reads"], "writes": report["writes"], "throttled": report["throttled"]}


def flow_phase(work_dir: str, n: int, server_env: dict[str, str]) -> dict[str, Any]:
    work = Path(work_dir)
    os.environ.update(server_env)
    redirect_output(work / f"flow-{os.getpid()}.log")
    import flows.wave
    from flows.lifecycle import wave_status
    from flows.wave import WaveRun, migration_wave
    from plmigrate.azure import Target

    import_lazy_modules()
    # Time the lifecycle's part of the run (after the landing zone and readiness) on its own.
    lifecycle_seconds: list[float] = []
    run_lifecycle = flows.wave.run_lifecycle

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        try:
            return run_lifecycle(*args, **kwargs)
        finally:
            lifecycle_seconds.append(time.monotonic() - began)

    flows.wave.run_lifecycle = timed
    sandbox, bu, servers, info = _world(work, n)
    load = load_average()
    started = time.monotonic()
    report = migration_wave(
        WaveRun(business_unit_file=str(work / "bu.yaml"), inventory_file=str(work / "wave.csv"), wave=WAVE,
                target=f"sandbox:{info}", to="replicating")
    )  # fmt: skip
    wall = time.monotonic() - started
    during = _counts(sandbox)
    started = time.monotonic()
    status = wave_status(Target.sandbox(sandbox.info).paced(bu.limits), bu, WAVE, servers)
    status_wall = time.monotonic() - started
    after = _counts(sandbox)
    sandbox.stop()
    lifecycle = report.lifecycle
    return {
        "wall": wall,
        "lifecycle_wall": sum(lifecycle_seconds),
        "load": load,
        "writes": during["writes"],
        "reads": during["reads"],
        "throttled": after["throttled"],
        "reached": lifecycle.arrived if lifecycle else 0,
        "cycles": lifecycle.cycles if lifecycle else 0,
        "poll_reads": lifecycle.reads_per_cycle if lifecycle else 0,
        "status_wall": status_wall,
        "status_reads": after["reads"] - during["reads"],
        "status_replicating": status.counts["replicating"],
        "peak_rss": peak_rss_bytes(),
    }


def bare_phase(work_dir: str, n: int) -> dict[str, Any]:
    """The same Site Recovery calls with the SDK alone: no Prefect, no lifecycle module."""
    work = Path(work_dir)
    redirect_output(work / f"bare-{os.getpid()}.log")
    from azure.core.rest import HttpRequest

    from plmigrate.azure import Target, clients, rest

    import_lazy_modules()
    sandbox, bu, servers, _info = _world(work, n)
    target = Target.sandbox(sandbox.info).paced(bu.limits)
    sr = clients(target).siterecovery
    rg, vault = bu.resource_group, bu.vault_name
    load = load_average()
    started = time.monotonic()
    since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def page_all(url: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        next_url: str | None = url
        while next_url:
            body = sr.send_request(HttpRequest("GET", next_url)).json()
            found += body.get("value") or []
            next_url = body.get("nextLink")
        return found

    fabric = next(rest(f) for f in sr.replication_fabrics.list(rg, vault))
    container = next(
        rest(c) for c in sr.replication_protection_containers.list_by_replication_fabrics(rg, vault, fabric["name"])
    )
    mapping = next(
        rest(m)
        for m in sr.replication_protection_container_mappings.list_by_replication_protection_containers(
            rg, vault, fabric["name"], container["name"]
        )
    )
    details = fabric["properties"]["customDetails"]
    machines = {}
    for site in (details["vmwareSiteId"], details["physicalSiteId"]):
        for machine in page_all(f"{site}/machines?api-version=2023-06-06"):
            machines[machine["properties"]["displayName"]] = machine["id"]
    vnets = {v.name: v.id for v in clients(target).network.virtual_networks.list_all()}
    rg_id = f"/subscriptions/{bu.subscription_id}/resourceGroups/rg-finance-servers"
    test_vnet = f"{rg_id}/providers/Microsoft.Network/virtualNetworks/vnet-finance-test"

    def enable(server: Any) -> None:
        body = {
            "properties": {
                "policyId": mapping["properties"]["policyId"],
                "providerSpecificDetails": {
                    "instanceType": "InMageRcm",
                    "fabricDiscoveryMachineId": machines[server.name],
                    "processServerId": details["processServers"][0]["id"],
                    "disksDefault": {
                        "logStorageAccountId": bu.storage_account_id(
                            server.cache_account or server.replication_account
                        ),
                        "diskType": "Standard_LRS",
                    },
                    "targetResourceGroupId": rg_id,
                    "targetNetworkId": vnets[server.target_vnet],
                    "targetSubnetName": server.target_subnet,
                    "testNetworkId": test_vnet,
                    "testSubnetName": server.target_subnet,
                    "targetVmName": server.name,
                },
            }
        }
        sr.replication_protected_items.begin_create(
            rg, vault, fabric["name"], container["name"], server.name, body, polling=False
        )

    with ThreadPoolExecutor(max_workers=bu.limits.arm_concurrency) as pool:
        list(pool.map(enable, servers))

    def read_cycle() -> list[dict[str, Any]]:
        items = [rest(i) for i in sr.replication_protected_items.list_by_replication_protection_containers(
            rg, vault, fabric["name"], container["name"])]  # fmt: skip
        list(sr.replication_jobs.list(rg, vault, filter=f"startTime eq '{since}' and jobStatus eq 'Failed'"))
        return items

    while True:
        items = read_cycle()
        running = [
            i for i in items if (i["properties"].get("currentScenario") or {}).get("scenarioName") not in (None, "None")
        ]
        if len(items) >= len(servers) and not running:
            break
        time.sleep(POLL_SECONDS)
    wall = time.monotonic() - started
    during = _counts(sandbox)
    started = time.monotonic()
    read_cycle()
    status_wall = time.monotonic() - started
    after = _counts(sandbox)
    sandbox.stop()
    return {
        "wall": wall,
        "lifecycle_wall": wall,
        "load": load,
        "writes": during["writes"],
        "reads": during["reads"],
        "throttled": after["throttled"],
        "reached": len(items) - len(running),
        "status_wall": status_wall,
        "status_reads": after["reads"] - during["reads"],
        "peak_rss": peak_rss_bytes(),
    }


def _med(runs: list[dict[str, Any]], key: str, digits: int = 1, unit: str = "") -> str:
    if not runs:
        return "—"
    mid, lo, hi = median_min_max([float(r[key]) for r in runs])
    return f"{mid:.{digits}f}{unit} [{lo:.{digits}f}..{hi:.{digits}f}]"


def floor_seconds(writes: float) -> float:
    """ARM's write budget: a burst of 200, then 10 per second; plus the job and one poll interval."""
    return max(0.0, writes - 200) / 10 + JOB_SECONDS + POLL_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="plmigrate-bench-lifecycle-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    write_inventory(work / "wave.csv", args.servers)
    (work / "prefect").mkdir()
    server = PrefectServer(work / "prefect").start()
    print(f"bench: Prefect server up in {server.start_seconds:.1f} s (excluded from every timing)", flush=True)
    env = {**server.env(), "PREFECT_API_URL": server.api_url}
    flows, bares = [], []
    try:
        for i in range(args.runs):
            flows.append(in_fresh_process(flow_phase, str(work), args.servers, env))
            print(f"run {i + 1} flow: {flows[-1]}", flush=True)
            if not args.skip_baseline:
                bares.append(in_fresh_process(bare_phase, str(work), args.servers))
                print(f"run {i + 1} bare: {bares[-1]}", flush=True)
    finally:
        server.stop()
    writes = median_min_max([float(r["writes"]) for r in flows])[0]
    floor = floor_seconds(writes)
    print(f"\nN = {args.servers} servers --to replicating, {args.runs} runs, median [min..max]")
    print(
        f"ARM write-budget floor: ({writes:.0f} writes - 200) / 10/s + {JOB_SECONDS:g} s job"
        f" + {POLL_SECONDS:g} s poll = {floor:.1f} s"
    )
    header = ["", "wall", "of it, the lifecycle", "lifecycle vs floor", "writes", "reads", "reads per status cycle",
              "status wall", "429s", "peak RSS"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for label, runs in (("Prefect flow", flows), ("bare SDK", bares)):
        if not runs:
            continue
        ratio = median_min_max([float(r["lifecycle_wall"]) / floor for r in runs])[0]
        rss = median_min_max([float(r["peak_rss"]) for r in runs])[0]
        cells = [label, _med(runs, "wall", 1, " s"), _med(runs, "lifecycle_wall", 1, " s"), f"{ratio:.2f}x",
                 _med(runs, "writes", 0), _med(runs, "reads", 0), _med(runs, "status_reads", 0),
                 _med(runs, "status_wall", 2, " s"), _med(runs, "throttled", 0), mib(int(rss))]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    reached = [r["reached"] for r in flows]
    print(f"servers replicating at the end (flow): {reached}; load average at start: "
          f"{[round(r['load'], 1) for r in flows + bares]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
