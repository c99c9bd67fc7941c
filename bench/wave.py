"""Benchmark: a migration wave of N servers through Prefect, against the same wave without Prefect.

    .venv/bin/python -m bench.wave --servers 1000 [--servers-per-task 100] [--skip-baseline]

One Prefect server (`prefect server start`, SQLite, in a temporary PREFECT_HOME) is started first
and serves the whole benchmark; its start-up is reported but excluded from both timings. Then,
each in a fresh process (so each peak RSS is its own) with a fresh in-process sandbox running
bench/scenario.yaml (ARM-like latencies, default throttling):

1. the `migration-wave` flow (flows.wave.migration_wave) over deployments/finance.yaml and a
   generated inventory of N servers of mixed source types;
2. bench/baseline.py: the same SDK calls in the same order on a thread pool of 8, no Prefect.

Wall time covers the wave only (from the flow call to its return; likewise for the baseline):
not imports, the sandbox's start, nor the Prefect server's. After the flow returns, the phase
reads back from the Prefect server what it recorded (task runs, the servers table artifact,
per-server log lines), waiting for late records, and reports how long they took to arrive.
See docs/performance.md for the figures and the design they measure.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import os
import platform
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BUSINESS_UNIT,
    WAVE,
    DroppedRecords,
    PrefectServer,
    grep_dropped,
    mib,
    peak_rss_bytes,
    redirect_output,
    start_sandbox,
    write_inventory,
)


def _business_unit_file(work: Path, servers_per_task: int | None) -> Path:
    """deployments/finance.yaml as shipped, or with `limits.servers_per_task` changed."""
    if servers_per_task is None:
        return BUSINESS_UNIT
    import yaml

    data = yaml.safe_load(BUSINESS_UNIT.read_text())
    data.setdefault("limits", {})["servers_per_task"] = servers_per_task
    path = work / "finance.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _arm(sandbox: Any) -> dict[str, int]:
    calls = sandbox.world.call_report()
    per_call = sorted(f"{r['method']} {r['resource_type']} {r['status']}: {r['count']}" for r in calls["calls"])
    return {"reads": calls["reads"], "writes": calls["writes"], "throttled": calls["throttled"], "calls": per_call}


def servers_named(message: str) -> set[str]:
    """The servers a record-server-states log record names (tasks.servers.log_states)."""
    blocked = re.match(r"server (\S+): blocked", message)
    if blocked:
        return {blocked.group(1)}
    ready = re.match(r"\d+ servers ready \(.*\): (.*)$", message, re.DOTALL)
    return set(ready.group(1).split(", ")) if ready else set()


async def _read_back(flow_run_id: str, servers: int, groups: int, settle_seconds: float) -> dict[str, Any]:
    """What the Prefect server recorded for the run, polled until it stops changing."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    from tasks.reporting import artifact_key

    key = artifact_key(f"wave-servers-finance-{WAVE}")
    started = time.monotonic()
    seen: dict[str, Any] = {}
    async with get_client() as client:
        while True:
            runs: list[Any] = []
            while True:
                page = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200, offset=len(runs)
                )
                runs += page
                if len(page) < 200:
                    break
            offset, named = 0, set()
            while True:
                page = await client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200, offset=offset
                )
                for entry in page:
                    named |= servers_named(entry.message)
                offset += len(page)
                if len(page) < 200:
                    break
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )
            rows = json.loads(artifacts[0].data) if artifacts and isinstance(artifacts[0].data, str) else []
            now = {
                "task_runs": len(runs),
                "task_runs_completed": sum(1 for r in runs if r.state and r.state.is_completed()),
                "group_task_runs": sum(1 for r in runs if r.name.startswith("record-server-states")),
                "artifact_rows": len(rows) if isinstance(rows, list) else 0,
                "servers_logged": len(named),
            }
            complete = (
                now["group_task_runs"] == groups
                and now["artifact_rows"] == servers
                and now["servers_logged"] == servers
                and now["task_runs_completed"] == now["task_runs"]
            )
            if complete or (now == seen and time.monotonic() - started > settle_seconds):
                now["records_settled_seconds"] = round(time.monotonic() - started, 1)
                now["records_complete"] = complete
                return now
            seen = now
            await asyncio.sleep(2)


def wave_phase(api_url: str, server_env: dict[str, str], bu_file: str, inventory: str, work: str) -> dict[str, Any]:
    """Run in a fresh process: the migration-wave flow on a fresh sandbox."""
    os.environ.update(server_env)
    os.environ["PREFECT_API_URL"] = api_url
    redirect_output(Path(work) / "wave-phase.log")
    import asyncio

    from flows.wave import WaveRun, migration_wave

    dropped = DroppedRecords().attach()
    sandbox = start_sandbox()
    info = Path(work) / "sandbox-wave.json"
    sandbox.info.write(info)
    run = WaveRun(business_unit_file=bu_file, inventory_file=inventory, wave=WAVE, target=f"sandbox:{info}")
    started = time.perf_counter()
    state = migration_wave(run, return_state=True)
    wall = time.perf_counter() - started
    arm = _arm(sandbox)
    report = state.result(raise_on_failure=False)
    failed = isinstance(report, BaseException)
    servers = 0 if failed else len(report.servers)
    from plmigrate.inventory import load_inventory
    from plmigrate.model import load_business_unit

    bu = load_business_unit(bu_file)
    total = len(load_inventory(inventory, bu, WAVE))
    groups = math.ceil(total / bu.limits.servers_per_task)
    recorded = asyncio.run(_read_back(str(state.state_details.flow_run_id), total, groups, settle_seconds=30))
    sandbox.stop()
    return {
        "wall_seconds": wall,
        "state": state.type.value,
        "error": repr(report) if failed else "",
        "servers": servers,
        "ready": 0 if failed else report.counts["ready"],
        "blocked": total - (0 if failed else report.counts["ready"]),
        "groups": groups,
        **arm,
        **recorded,
        "peak_rss": peak_rss_bytes(),
        "dropped": dropped.lines + grep_dropped(Path(work) / "wave-phase.log"),
    }


def baseline_phase(bu_file: str, inventory: str, work: str) -> dict[str, Any]:
    """Run in a fresh process: bench/baseline.py on a fresh sandbox. No Prefect server is set."""
    redirect_output(Path(work) / "baseline-phase.log")
    from bench.baseline import run_baseline
    from plmigrate.azure import Target
    from plmigrate.inventory import load_inventory
    from plmigrate.model import load_business_unit

    handler = logging.FileHandler(Path(work) / "baseline-servers.log")
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)s | %(message)s"))
    logging.getLogger("bench.baseline").addHandler(handler)
    logging.getLogger("bench.baseline").setLevel(logging.INFO)
    sandbox = start_sandbox()
    bu = load_business_unit(bu_file)
    servers = load_inventory(inventory, bu, WAVE)
    target = Target.sandbox(sandbox.info).paced(bu.limits)
    started = time.perf_counter()
    error = ""
    try:
        report = run_baseline(target, bu, WAVE, servers, Path(work))
        states = report.servers
    except Exception as exc:  # reported, not hidden
        error, states = repr(exc), []
    wall = time.perf_counter() - started
    arm = _arm(sandbox)
    sandbox.stop()
    ready = sum(1 for s in states if s.state == "ready")
    return {
        "wall_seconds": wall,
        "error": error,
        "servers": len(states),
        "ready": ready,
        "blocked": len(servers) - ready,
        **arm,
        "peak_rss": peak_rss_bytes(),
        "dropped": grep_dropped(Path(work) / "baseline-phase.log"),
    }


def _in_fresh_process(fn: Any, *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _table(n: int, wave: dict[str, Any], base: dict[str, Any] | None, server: PrefectServer) -> str:
    def row(label: str, w: Any, b: Any) -> str:
        return f"| {label} | {w} | {b} |"

    b = base or {}
    same_calls = ("yes" if b["calls"] == wave["calls"] else "**no**") if b else "—"
    lines = [
        f"| N = {n} servers, {wave['groups']} groups | migration-wave (Prefect) | baseline (no Prefect) |",
        "| --- | --- | --- |",
        row("wall time", f"{wave['wall_seconds']:.1f} s", f"{b['wall_seconds']:.1f} s" if b else "skipped"),
        row(
            "ratio wave/baseline",
            f"**{wave['wall_seconds'] / b['wall_seconds']:.2f}**" if b else "—",
            "",
        ),
        row("ARM reads", wave["reads"], b.get("reads", "—")),
        row("ARM writes", wave["writes"], b.get("writes", "—")),
        row("ARM 429s", wave["throttled"], b.get("throttled", "—")),
        row("same ARM calls (method, type, status, count)", "—", same_calls),
        row("peak RSS (bench process)", mib(wave["peak_rss"]), mib(b["peak_rss"]) if b else "—"),
        row("peak RSS (Prefect server)", mib(server.peak_rss_bytes()), "—"),
        row("servers ready / blocked", f"{wave['ready']} / {wave['blocked']}",
            f"{b['ready']} / {b['blocked']}" if b else "—"),
        row("flow run state", wave["state"] + (f" {wave['error']}" if wave["error"] else ""), b.get("error") or "—"),
        row("task runs recorded (completed)", f"{wave['task_runs']} ({wave['task_runs_completed']})", "—"),
        row("record-server-states runs", f"{wave['group_task_runs']} of {wave['groups']}", "—"),
        row("table artifact rows", f"{wave['artifact_rows']} of {n}", "—"),
        row("servers named in log records", f"{wave['servers_logged']} of {n}", "—"),
        row("records complete / read back after",
            f"{wave['records_complete']} / {wave['records_settled_seconds']} s", "—"),
        row("queue-full / dropped warnings", len(wave["dropped"]), len(b.get("dropped", [])) if b else "—"),
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, required=True, help="servers in the wave")
    parser.add_argument("--servers-per-task", type=int, default=None, help="override limits.servers_per_task")
    parser.add_argument("--skip-baseline", action="store_true", help="run only the Prefect wave")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, Prefect database)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="plmigrate-bench-"))
    bu_file = _business_unit_file(work, args.servers_per_task)
    inventory = write_inventory(work / "wave.csv", args.servers)
    print(
        f"bench: {args.servers} servers, {platform.node()} ({os.cpu_count()} CPUs), "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, work dir {work}",
        file=sys.stderr,
    )
    server = PrefectServer(work).start()
    print(f"bench: Prefect server up in {server.start_seconds:.1f} s (excluded from both timings)", file=sys.stderr)
    try:
        wave = _in_fresh_process(wave_phase, server.api_url, server.env(), str(bu_file), str(inventory), str(work))
        print(f"bench: wave done in {wave['wall_seconds']:.1f} s", file=sys.stderr)
        base = None
        if not args.skip_baseline:
            base = _in_fresh_process(baseline_phase, str(bu_file), str(inventory), str(work))
            print(f"bench: baseline done in {base['wall_seconds']:.1f} s", file=sys.stderr)
        server_dropped = grep_dropped(server.log)
        wave["dropped"] += [f"server: {line}" for line in server_dropped]
        print(_table(args.servers, wave, base, server))
        for line in wave["dropped"][:20]:
            print(f"  dropped-record warning: {line}")
        failed = wave["state"] != "COMPLETED" or wave["blocked"] or (base and (base["error"] or base["blocked"]))
        return 1 if failed or wave["dropped"] or not wave["records_complete"] else 0
    finally:
        server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
