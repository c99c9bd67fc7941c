"""Benchmark: the `private-link-landing-zone` flow against its critical path and a plain script.

    .venv/bin/python -m bench.landing_zone [--runs 3] [--keep]

For deployments/finance.yaml on bench/scenario.yaml (ARM-like latencies, default throttling):

- the critical path C: the longest chain through the landing zone's dependency graph (the
  flow's, bench/graph.py's docstring draws it) when every ARM call takes exactly what the
  scenario's latency rules say (a long-running PUT: its Retry-After, then the status polls and
  the final GET). Round trips, client CPU and Prefect count zero, so no run can beat C. The
  model's calls are checked against the sandbox's counters after a real run;
- the flow, W: `private_link_landing_zone(...)` from its call to its return, in a fresh process
  whose imports are done before the timer (so are the graph-ordered script's);
- the graph-ordered script, S: bench/graph.py's `run_landing_zone`, the same task bodies in the
  same graph order on a bare thread pool, no Prefect.

Each is run `--runs` times (at least 3), alternating flow and script so both see the same
machine, each on a fresh sandbox; figures are median [min..max] with the machine's 1-minute load
average at each run's start. Every run is split by the sandbox's ARM call window into start-up
(call → first ARM request), ARM window, and tail (last ARM answer → return). Two more scenarios
follow the same way: a converged re-run (the world already made, by the script, untimed) and
the zero-latency world, where only orchestration costs time.

The targets are printed, not asserted. The last line is
`landing zone: wall W s, critical path C s, graph-ordered script S s, ratio to critical path R`
with R = W / C. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BUSINESS_UNIT,
    SCENARIO,
    PrefectServer,
    after_final_state,
    import_lazy_modules,
    in_fresh_process,
    load_average,
    median_min_max,
    redirect_output,
    run_body_seconds,
    split_times,
    spread,
    start_sandbox,
    warm_up,
)

# -- the critical path ---------------------------------------------------------------------------

OPERATIONS = "Sandbox.Operations/operations"  # the sandbox's LRO status resource (GET, polled)


@dataclass
class Node:
    name: str
    after: list[str]
    calls: list[tuple[str, str, bool]]  # (method, resource type, long-running)
    extra_seconds: float = 0.0  # waits the world imposes beyond the calls (identity propagation)
    floor_after: tuple[str, float] | None = None  # cannot finish before that node's end + seconds


@dataclass
class Model:
    nodes: dict[str, Node] = field(default_factory=dict)

    def add(self, node: Node) -> None:
        self.nodes[node.name] = node


def landing_zone_model(scenario: Any, bu: Any) -> Model:
    """The landing zone's dependency graph on a fresh world of `scenario` for business unit `bu`,
    with the ARM calls each node makes (tasks/*.py on a world where nothing of ours exists yet)."""
    from plmigrate.rules import required_roles

    model = Model()
    existing_groups = {g.name.lower() for g in scenario.resource_groups}
    model.add(Node("validate: subscription", [], [("GET", "Microsoft.Resources/subscriptions", False)]))
    model.add(
        Node(
            "validate: network",
            [],  # the validation reads go out together (flows.private_link.validate_landing_zone)
            [
                ("GET", "Microsoft.Network/virtualNetworks", False),
                ("GET", "Microsoft.Network/virtualNetworks/subnets", False),
            ],
        )
    )
    validated = ["validate: subscription", "validate: network"]
    for ref in bu.storage_accounts:
        name = f"validate: {ref.name}"
        model.add(
            Node(
                name,
                [],
                [
                    ("GET", "Microsoft.Storage/storageAccounts", False),
                    ("GET", "Microsoft.Storage/storageAccounts/blobServices", False),
                ],
            )
        )
        validated.append(name)
    groups = bu.landing_zone_resource_groups
    model.add(
        Node("validate: resource groups", [], [("GET", "Microsoft.Resources/resourceGroups", False)] * len(groups))
    )
    validated.append("validate: resource groups")

    def after_group(group: str) -> list[str]:
        """A write into `group` waits for validation, and for the group's creation when validation
        did not find it (flows.private_link.create_vault_side)."""
        return validated + ([f"resource group {group}"] if group.lower() not in existing_groups else [])

    for group in groups:
        if group.lower() not in existing_groups:  # ensure_resource_group: is it there yet, then create
            calls = [
                ("GET", "Microsoft.Resources/resourceGroups", False),
                ("PUT", "Microsoft.Resources/resourceGroups", False),
            ]
            model.add(Node(f"resource group {group}", validated, calls))
    model.add(
        Node(
            "vault",
            after_group(bu.resource_group),
            [("GET", "Microsoft.RecoveryServices/vaults", False), ("PUT", "Microsoft.RecoveryServices/vaults", True)],
        )
    )
    links = len(bu.zone_link_vnet_ids)
    for zone in ("ASR zone", "blob zone"):
        calls = [
            ("GET", "Microsoft.Network/privateDnsZones", False),
            ("PUT", "Microsoft.Network/privateDnsZones", True),
        ]
        calls += [("GET", "Microsoft.Network/privateDnsZones/virtualNetworkLinks", False)]  # the list
        # per VNet not linked yet: is our link name free (404), then the link
        calls += [
            ("GET", "Microsoft.Network/privateDnsZones/virtualNetworkLinks", False),
            ("PUT", "Microsoft.Network/privateDnsZones/virtualNetworkLinks", True),
        ] * links
        model.add(Node(zone, after_group(bu.dns_zone_resource_group), calls))
    endpoint = [
        ("GET", "Microsoft.Network/privateEndpoints", False),
        ("PUT", "Microsoft.Network/privateEndpoints", True),
    ]
    group_calls = [
        ("GET", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", False),
        ("PUT", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", True),
    ]
    model.add(Node("vault endpoint", ["vault"], endpoint))
    model.add(Node("vault zone group", ["vault endpoint", "ASR zone"], group_calls))
    model.add(Node("vault DNS", ["vault zone group"], []))
    accounts = {a.name: a for a in scenario.storage_accounts}
    identity = scenario.identity
    for ref in bu.storage_accounts:
        seed = accounts[ref.name]
        roles = len(required_roles(seed.sku))
        model.add(
            Node(
                f"{ref.name}: roles",
                ["vault"],
                [("GET", "Microsoft.Authorization/roleAssignments", False)]
                + [("PUT", "Microsoft.Authorization/roleAssignments", False)] * roles
                + [("GET", "Microsoft.Authorization/roleAssignments", False)],
                extra_seconds=identity.assignment_visible_after_seconds,
                floor_after=("vault", identity.principal_not_found_seconds)
                if identity.principal_not_found_even_with_type
                else None,
            )
        )
        rules = seed.network_rules
        trusted: list[tuple[str, str, bool]] = []  # nothing to change as validated: no call
        if rules.default_action == "Deny" and "azureservices" not in rules.bypass.lower().replace(" ", "").split(","):
            trusted = [
                ("GET", "Microsoft.Storage/storageAccounts", False),
                ("PATCH", "Microsoft.Storage/storageAccounts", False),
            ]
        model.add(Node(f"{ref.name}: trusted services", validated, trusted))
        model.add(Node(f"{ref.name}: endpoint", after_group(bu.resource_group), endpoint))
        model.add(Node(f"{ref.name}: zone group", [f"{ref.name}: endpoint", "blob zone"], group_calls))
        model.add(Node(f"{ref.name}: DNS", [f"{ref.name}: zone group"], []))
    return model


def call_seconds(scenario: Any, method: str, resource_type: str, long_running: bool) -> float:
    """What one call takes on the sandbox with nothing else in the way: a plain call its latency;
    a long-running PUT is answered at once with Retry-After ceil(latency), then `lro_polls` + 1
    status polls and the SDK's final GET (plmigrate/sandbox/lro.py)."""
    from plmigrate.sandbox.behaviour import Behaviour

    rules = Behaviour([], scenario.latencies, scenario.throttling)
    latency = rules.latency_for(method, resource_type)
    if not long_running:
        return latency
    wait = max(1, math.ceil(latency)) if latency > 0 else 0.0
    polls = (scenario.lro_polls + 1) * rules.latency_for("GET", OPERATIONS)
    return wait + polls + rules.latency_for("GET", resource_type)


def critical_path(model: Model, scenario: Any) -> tuple[float, list[str]]:
    """The earliest every node can finish, and the chain that ends last."""
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}

    def end(name: str) -> float:
        if name in finish:
            return finish[name]
        node = model.nodes[name]
        start, parent = 0.0, None
        for dep in node.after:
            if end(dep) > start:
                start, parent = end(dep), dep
        done = start + sum(call_seconds(scenario, *c) for c in node.calls) + node.extra_seconds
        if node.floor_after is not None:
            done = max(done, end(node.floor_after[0]) + node.floor_after[1])
        finish[name], via[name] = done, parent
        return done

    last = max(model.nodes, key=end)
    chain: list[str] = []
    cursor: str | None = last
    while cursor is not None:
        chain.append(f"{cursor} ({finish[cursor]:.2f} s)")
        cursor = via[cursor]
    return finish[last], list(reversed(chain))


def model_calls(model: Model, scenario: Any) -> Counter[tuple[str, str]]:
    """The (method, resource type) counts the model says a fresh run makes, LRO polls included."""
    counts: Counter[tuple[str, str]] = Counter()
    for node in model.nodes.values():
        for method, resource_type, long_running in node.calls:
            counts[(method, resource_type)] += 1
            if long_running:
                counts[("GET", OPERATIONS)] += scenario.lro_polls + 1
                counts[("GET", resource_type)] += 1
    return counts


def sandbox_calls(report: dict[str, Any]) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for row in report["calls"]:
        counts[(row["method"], row["resource_type"])] += row["count"]
    return counts


# -- the phases, each in a fresh process ---------------------------------------------------------


def _converge(sandbox: Any, bu: Any) -> None:
    """Make the landing zone with the graph-ordered script (untimed), then forget its calls."""
    from bench.graph import run_landing_zone
    from plmigrate.azure import Target

    run_landing_zone(Target.sandbox(sandbox.info).paced(bu.limits), bu)
    sandbox.world.forget_calls()


def flow_phase(api_url: str, server_env: dict[str, str], scenario: str, rerun: bool, work: str) -> dict[str, Any]:
    os.environ.update(server_env)
    os.environ["PREFECT_API_URL"] = api_url
    redirect_output(Path(work) / "flow-phase.log")
    from flows.private_link import private_link_landing_zone
    from plmigrate.model import load_business_unit

    import_lazy_modules()
    bu = load_business_unit(BUSINESS_UNIT)
    sandbox = start_sandbox(scenario)
    try:
        if rerun:
            _converge(sandbox, bu)
        info = Path(work) / f"sandbox-{os.getpid()}.json"
        sandbox.info.write(info)
        load = load_average()
        started = time.monotonic()
        state = private_link_landing_zone(str(BUSINESS_UNIT), f"sandbox:{info}", return_state=True)
        ended, returned_at = time.monotonic(), time.time()
        report = state.result(raise_on_failure=False)
        calls = sandbox.world.call_report()
        return {
            **split_times(sandbox, started, ended),
            "after_final_seconds": after_final_state(state, returned_at),
            "body_seconds": run_body_seconds(state),
            "load": load,
            "state": state.type.value,
            "error": repr(report) if isinstance(report, BaseException) else "",
            "reads": calls["reads"],
            "writes": calls["writes"],
            "connections": calls["connections"],
            "calls": calls,
        }
    finally:
        sandbox.stop()


def script_phase(scenario: str, rerun: bool, work: str) -> dict[str, Any]:
    redirect_output(Path(work) / "script-phase.log")
    import flows.private_link  # noqa: F401  (imports outside the timer, as the flow phase's)
    from bench.graph import run_landing_zone
    from plmigrate.azure import resolve_target
    from plmigrate.model import load_business_unit

    import_lazy_modules()
    sandbox = start_sandbox(scenario)
    try:
        if rerun:
            _converge(sandbox, load_business_unit(BUSINESS_UNIT))
        info = Path(work) / f"sandbox-script-{os.getpid()}.json"
        sandbox.info.write(info)
        load = load_average()
        started = time.monotonic()
        error = ""
        try:
            # Inside the timer, as the flow does inside its run (and the wave's baseline): read
            # the business-unit file, resolve the target as the flow does.
            bu = load_business_unit(BUSINESS_UNIT)
            target = resolve_target(f"sandbox:{info}", bu.subscription_id).paced(bu.limits).timed(bu.timeouts)
            run_landing_zone(target, bu)
        except Exception as exc:  # reported, not hidden
            error = repr(exc)
        ended = time.monotonic()
        calls = sandbox.world.call_report()
        return {
            **split_times(sandbox, started, ended),
            "load": load,
            "state": "COMPLETED" if not error else "FAILED",
            "error": error,
            "reads": calls["reads"],
            "writes": calls["writes"],
            "connections": calls["connections"],
            "calls": calls,
        }
    finally:
        sandbox.stop()


# -- the report ------------------------------------------------------------------------------------


def _column(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in runs]


def table(title: str, flow: list[dict[str, Any]], script: list[dict[str, Any]], critical: float | None) -> str:
    def row(label: str, key: str) -> str:
        return f"| {label} | {spread(_column(flow, key))} | {spread(_column(script, key))} |"

    def flow_row(label: str, key: str) -> str:
        return f"| {label} | {spread(_column(flow, key))} | — |"

    w = median_min_max(_column(flow, "wall_seconds"))[0]
    s = median_min_max(_column(script, "wall_seconds"))[0]
    lines = [
        f"| {title} ({len(flow)} runs each: median [min..max]) | flow (Prefect) | graph-ordered script |",
        "| --- | --- | --- |",
        row("wall", "wall_seconds"),
        row("start-up (call → first ARM request)", "startup_seconds"),
        row("ARM window (first request → last answer)", "arm_seconds"),
        row("tail (last ARM answer → return)", "tail_seconds"),
        flow_row("of it, after the Completed state (state API call, heartbeat join)", "after_final_seconds"),
        flow_row("run body (Running → Completed state)", "body_seconds"),
        f"| flow / script (medians) | **{w / s:.2f}** | |" if s > 0 else "| flow / script | — | |",
        f"| flow - script (medians) | {w - s:.2f} s | |",
    ]
    if critical:
        lines.append(
            f"| ratio to critical path {critical:.2f} s (medians) | **{w / critical:.2f}** | {s / critical:.2f} |"
        )
    lines += [
        f"| ARM reads / writes | {_calls(flow)} | {_calls(script)} |",
        f"| TLS connections opened (ARM and admin) | {spread(_column(flow, 'connections'), '', 0)} | "
        f"{spread(_column(script, 'connections'), '', 0)} |",
        f"| runs completed | {sum(r['state'] == 'COMPLETED' for r in flow)} of {len(flow)} | "
        f"{sum(r['state'] == 'COMPLETED' for r in script)} of {len(script)} |",
        f"| load average at start (1 min) | {spread(_column(flow, 'load'), '', 1)} | "
        f"{spread(_column(script, 'load'), '', 1)} |",
    ]
    return "\n".join(lines)


def _calls(runs: list[dict[str, Any]]) -> str:
    seen = sorted({(r["reads"], r["writes"]) for r in runs})
    return ", ".join(f"{reads} / {writes}" for reads, writes in seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (at least 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, Prefect database)")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs: at least 3 (figures are medians)")
    from plmigrate.model import load_business_unit
    from plmigrate.sandbox import Scenario

    scenario = Scenario.load(SCENARIO)
    bu = load_business_unit(BUSINESS_UNIT)
    model = landing_zone_model(scenario, bu)
    critical, chain = critical_path(model, scenario)

    work = Path(tempfile.mkdtemp(prefix="plmigrate-bench-lz-"))
    print(
        f"bench: landing zone, {platform.node()} ({os.cpu_count()} CPUs), load {os.getloadavg()[0]:.1f}, "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, work dir {work}",
        file=sys.stderr,
    )
    server = PrefectServer(work).start()
    print(f"bench: Prefect server up in {server.start_seconds:.1f} s (excluded from every timing)", file=sys.stderr)
    warmed = warm_up(server, work)
    print(f"bench: the server's first flow run (untimed warm-up) took {warmed:.1f} s", file=sys.stderr)
    results: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    try:
        for label, world, rerun in (("fresh", "bench", False), ("converged re-run", "bench", True),
                                    ("zero latency, fresh", "zero-latency", False)):  # fmt: skip
            flows, scripts = [], []
            for i in range(args.runs):
                flows.append(in_fresh_process(flow_phase, server.api_url, server.env(), world, rerun, str(work)))
                scripts.append(in_fresh_process(script_phase, world, rerun, str(work)))
                print(
                    f"bench: {label} run {i + 1}: flow {flows[-1]['wall_seconds']:.2f} s, "
                    f"script {scripts[-1]['wall_seconds']:.2f} s (load {flows[-1]['load']:.1f})",
                    file=sys.stderr,
                )
            results[label] = (flows, scripts)
    finally:
        server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)

    fresh_flow, fresh_script = results["fresh"]
    matches = all(sandbox_calls(r["calls"]) == model_calls(model, scenario) for r in fresh_flow + fresh_script)
    print(f"Critical path on bench/scenario.yaml: {critical:.2f} s: " + " → ".join(chain))
    print(f"The model's ARM calls equal the sandbox's counts of every fresh run: {'yes' if matches else '**no**'}")
    print()
    print(table("fresh landing zone, bench latencies", fresh_flow, fresh_script, critical))
    print()
    print(table("converged re-run, bench latencies", *results["converged re-run"], None))
    print()
    print(table("fresh landing zone, zero latency", *results["zero latency, fresh"], None))
    print()
    w = median_min_max(_column(fresh_flow, "wall_seconds"))[0]
    s = median_min_max(_column(fresh_script, "wall_seconds"))[0]
    rerun_flow, rerun_script = results["converged re-run"]
    overhead = (
        median_min_max(_column(rerun_flow, "wall_seconds"))[0]
        - median_min_max(_column(rerun_script, "wall_seconds"))[0]
    )
    print(f"target: ratio to critical path <= 1.2: {w / critical:.3f} ({'met' if w / critical <= 1.2 else 'NOT met'})")
    print(f"target: flow within 1.15x the graph-ordered script: {w / s:.3f} ({'met' if w / s <= 1.15 else 'NOT met'})")
    print(f"(converged re-run: the flow takes {overhead:.2f} s more than the script)")
    failed = [r for runs in results.values() for side in runs for r in side if r["state"] != "COMPLETED"]
    for r in failed:
        print(f"run failed: {r['error']}")
    print(
        f"landing zone: wall {w:.2f} s, critical path {critical:.2f} s, graph-ordered script {s:.2f} s, "
        f"ratio to critical path {w / critical:.2f}"
    )
    return 1 if failed or not matches else 0


if __name__ == "__main__":
    sys.exit(main())
