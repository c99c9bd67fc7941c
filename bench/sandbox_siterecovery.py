"""Benchmark: what one Site Recovery read costs the sandbox at N protected items in one container.

    .venv/bin/python -m bench.sandbox_siterecovery --items 1000 5000 [--repeat 5] [--profile FILE]

For each N, a fresh in-process sandbox: a vault (identity granted on the cache account), appliance
app-01 registered with N discovered machines, and N InMageRcm items enabled in its container (the
PUTs go through the sandbox app in-process: authentication, routing and the provider as over HTTP,
without the TLS round trips, so seeding 5,000 takes seconds). The enable jobs are then over; the
first container walk settles them (timed on its own). Then each request `--repeat` times, twice:
over HTTPS through the real SiteRecoveryManagementClient (what a caller waits for, the SDK's model
deserialization included: ~5 ms an item on this machine) and answered by the sandbox app in-process
(the sandbox's own cost, which is what this benchmark is about):

- page: the container's first page of 100 items (`list_by_replication_protection_containers`);
- walk: every page of the container;
- item: one item GET;
- fabric: the appliance fabric GET (process server, mobility agents);
- failed jobs: the jobs list with `$filter=startTime ge '...' and jobStatus eq 'Failed'`, what the
  lifecycle reads every poll cycle.

Printed per N: median [min..max] ms, and the ratio of the largest N's median to the smallest's per
request (about 1 when a request's cost does not grow with N; a walk grows with the pages it reads;
the fabric's answer lists one mobility agent per discovered machine, so it grows with N too).
`--profile FILE` writes cProfile stats of the in-process requests at the largest N. No figure is
asserted anywhere.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load_average, median_min_max

SUB = "00000000-0000-0000-0000-00000000a11e"
RG = f"/subscriptions/{SUB}/resourceGroups"
VNET_PROD = f"{RG}/rg-target/providers/Microsoft.Network/virtualNetworks/vnet-prod"
VNET_TEST = f"{RG}/rg-target/providers/Microsoft.Network/virtualNetworks/vnet-test"
CACHE = f"{RG}/rg-mig/providers/Microsoft.Storage/storageAccounts/stcache01"
ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"
ROLE_IDS = ("b24988ac-6180-42a0-ab88-20f7382dd24c", "ba92f5b4-2d11-453d-a403-e96b0029c9fe")
REQUESTS = ("page", "walk", "item", "fabric", "failed jobs")
SIDES = ("https + SDK", "sandbox")
SOURCES = ("vmware", "physical", "aws", "gcp", "hyperv")


def scenario(n: int) -> dict[str, Any]:
    net = [
        ("rg-target", "vnet-prod", "10.1.0.0/16", "10.1.0.0/17"),
        ("rg-target", "vnet-test", "10.9.0.0/16", "10.9.0.0/17"),
    ]
    networks = [
        {"resource_group": g, "name": v, "location": "eastus", "address_prefixes": [space],
         "subnets": [{"name": "snet-app", "address_prefix": prefix}]}
        for g, v, space, prefix in net
    ]  # fmt: skip
    return {
        "subscription_id": SUB,
        "resource_groups": [{"name": "rg-mig", "location": "eastus"}, {"name": "rg-target", "location": "eastus"}],
        "virtual_networks": networks,
        "storage_accounts": [{"resource_group": "rg-mig", "name": "stcache01", "location": "eastus"}],
        "appliances": [
            {
                "name": "app-01",
                "resource_group": "rg-mig",
                "machines": [{"name": f"srv-{i:05d}", "source_type": SOURCES[i % len(SOURCES)]} for i in range(n)],
            }
        ],
        "throttling": {"enabled": False},
        "identity": {"principal_not_found_seconds": 0},
        "site_recovery": {"enable_seconds": 1, "initial_replication_seconds": 3600},
    }


class Bench:
    """One sandbox at N items, with the SDK client and what the timed requests need."""

    def __init__(self, n: int) -> None:
        from plmigrate.azure import Target, clients
        from plmigrate.sandbox import Sandbox, Scenario
        from plmigrate.sandbox.serve import AdminClient

        self.n = n
        self.box = Sandbox(Scenario.model_validate(scenario(n)))
        self.box.start()
        self.azure = clients(Target.sandbox(self.box.info))
        vault = self.azure.recoveryservices.vaults.begin_create_or_update(
            "rg-mig", "rsv1",
            {"location": "eastus", "identity": {"type": "SystemAssigned"}, "sku": {"name": "Standard"},
             "properties": {"publicNetworkAccess": "Enabled"}},
        ).result()  # fmt: skip
        for role in ROLE_IDS:
            self.azure.authorization.role_assignments.create(
                CACHE,
                str(uuid.uuid4()),
                {"properties": {"roleDefinitionId": f"{ROLES}/{role}", "principalId": vault.identity.principal_id,
                                "principalType": "ServicePrincipal"}},
            )  # fmt: skip
        self.reg = AdminClient(self.box.info).register_appliance(vault.id, "app-01")
        self.started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        self.sr = self.azure.siterecovery

    def seed(self) -> float:
        """N enables through the sandbox app in-process; returns the seconds they took."""
        from plmigrate.sandbox.providers import offazure

        app, reg = self.box.app, self.reg
        headers = {"authorization": f"Bearer {self.box.token}", "content-type": "application/json"}
        container = reg["container_id"]
        began = time.perf_counter()
        for i in range(self.n):
            server = f"srv-{i:05d}"
            kind = offazure.site_kind(SOURCES[i % len(SOURCES)])
            site = offazure.site_id(SUB, "rg-mig", "app-01", kind)
            body = {
                "properties": {
                    "policyId": reg["policy_id"],
                    "providerSpecificDetails": {
                        "instanceType": "InMageRcm",
                        "fabricDiscoveryMachineId": f"{site}/machines/{offazure.machine_name('app-01', server)}",
                        "processServerId": reg["process_server_id"],
                        "targetResourceGroupId": f"{RG}/rg-target",
                        "targetNetworkId": VNET_PROD,
                        "targetSubnetName": "snet-app",
                        "testNetworkId": VNET_TEST,
                        "testSubnetName": "snet-app",
                        "targetVmName": server,
                        "disksDefault": {"logStorageAccountId": CACHE, "diskType": "Standard_LRS"},
                    },
                }
            }
            path = f"{container}/replicationProtectedItems/{server}?api-version=2025-08-01"
            response = app.handle("PUT", path, headers, json.dumps(body).encode(), self.box.info.arm_url)
            if response.status != 202:
                raise SystemExit(f"enable {server}: {response.status} {response.body}")
        return time.perf_counter() - began

    # -- in-process: the sandbox app answers, no TLS, no SDK ------------------------------------
    def serve(self, path: str) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.box.token}"}
        response = self.box.app.handle("GET", path, headers, b"", self.box.info.arm_url)
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {response.body}")
        return response.body  # type: ignore[no-any-return]

    def items_path(self) -> str:
        return f"{self.reg['container_id']}/replicationProtectedItems?api-version=2025-08-01"

    def app_page(self) -> int:
        return len(self.serve(self.items_path())["value"])

    def app_walk(self) -> int:
        count, path = 0, self.items_path()
        while path:
            body = self.serve(path)
            count += len(body["value"])
            path = body.get("nextLink", "").removeprefix(self.box.info.arm_url)
        return count

    def app_item(self) -> int:
        return len(self.serve(f"{self.reg['container_id']}/replicationProtectedItems/srv-{self.n // 2:05d}"
                              "?api-version=2025-08-01"))  # fmt: skip

    def app_fabric(self) -> int:
        return len(self.serve(f"{self.reg['fabric_id']}?api-version=2025-08-01"))

    def app_failed_jobs(self) -> int:
        vault = self.reg["fabric_id"].split("/replicationFabrics/")[0]
        since = self.started.strftime("%Y-%m-%dT%H:%M:%SZ")
        query = f"$filter=startTime ge '{since}' and jobStatus eq 'Failed'".replace(" ", "%20")
        return len(self.serve(f"{vault}/replicationJobs?api-version=2025-08-01&{query}")["value"])

    # -- over HTTPS through the SDK client ----------------------------------------------------
    def args(self) -> tuple[str, str, str, str]:
        return ("rg-mig", "rsv1", self.reg["fabric"], self.reg["container"])

    def page(self) -> int:
        pager = self.sr.replication_protected_items.list_by_replication_protection_containers(*self.args())
        return len(list(next(pager.by_page())))

    def walk(self) -> int:
        return len(list(self.sr.replication_protected_items.list_by_replication_protection_containers(*self.args())))

    def item(self) -> int:
        got = self.sr.replication_protected_items.get(*self.args(), f"srv-{self.n // 2:05d}")
        return 1 if got.properties.protection_state else 0

    def fabric(self) -> int:
        got = self.sr.replication_fabrics.get("rg-mig", "rsv1", self.reg["fabric"])
        return len(got.properties.custom_details.process_servers)

    def failed_jobs(self) -> int:
        since = self.started.strftime("%Y-%m-%dT%H:%M:%SZ")
        wanted = f"startTime ge '{since}' and jobStatus eq 'Failed'"
        return len(list(self.sr.replication_jobs.list("rg-mig", "rsv1", filter=wanted)))

    def stop(self) -> None:
        self.box.stop()


def measure(n: int, repeat: int, profile: cProfile.Profile | None) -> dict[str, Any]:
    from plmigrate.sandbox.providers.siterecovery import clock

    bench = Bench(n)
    try:
        seeded = bench.seed()
        clock.advance(bench.box.world, 5)  # every enable job is over, not yet settled
        began = time.perf_counter()
        walked = bench.walk()
        first_walk = time.perf_counter() - began
        if walked != n:
            raise SystemExit(f"the first walk saw {walked} items, not {n}")
        sdk = dict(zip(REQUESTS, (bench.page, bench.walk, bench.item, bench.fabric, bench.failed_jobs), strict=True))
        app = dict(
            zip(REQUESTS, (bench.app_page, bench.app_walk, bench.app_item, bench.app_fabric, bench.app_failed_jobs),
                strict=True)
        )  # fmt: skip
        times: dict[str, dict[str, list[float]]] = {side: {name: [] for name in REQUESTS} for side in SIDES}
        for _ in range(repeat):
            for side, calls in (("https + SDK", sdk), ("sandbox", app)):
                for name in REQUESTS:
                    began = time.perf_counter()
                    calls[name]()
                    times[side][name].append((time.perf_counter() - began) * 1000)
        if profile is not None:  # a pass of its own: the profiler's overhead stays out of the figures
            profile.enable()
            for name in REQUESTS:
                app[name]()
            profile.disable()
        return {"n": n, "seed_s": seeded, "first_walk_s": first_walk, "times": times, "load": load_average()}
    finally:
        bench.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the largest N's requests here")
    args = parser.parse_args(argv)
    sizes = sorted(args.items)
    results = []
    for n in sizes:
        profile = cProfile.Profile() if args.profile and n == sizes[-1] else None
        result = measure(n, args.repeat, profile)
        results.append(result)
        print(
            f"N = {n:>6}: seeded in {result['seed_s']:.1f} s, first walk (settling the enable jobs) "
            f"{result['first_walk_s']:.2f} s, load {result['load']:.1f}"
        )
        for name in REQUESTS:
            cells = []
            for side in SIDES:
                median, low, high = median_min_max(result["times"][side][name])
                cells.append(f"{side} {median:8.1f} ms [{low:.1f}..{high:.1f}]")
            print(f"    {name:<12} " + "   ".join(cells))
        if profile is not None:
            profile.dump_stats(args.profile)
            print(f"    profile: {args.profile}")
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"ratio of medians, N = {large['n']} / N = {small['n']} (N x{large['n'] / small['n']:g}):")
        for name in REQUESTS:
            cells = []
            for side in SIDES:
                a = median_min_max(small["times"][side][name])[0]
                b = median_min_max(large["times"][side][name])[0]
                cells.append(f"{side} x{b / a:.2f}")
            print(f"    {name:<12} " + "   ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
