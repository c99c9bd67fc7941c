"""Benchmark: a migration wave of N servers through Prefect, against the same wave without Prefect.

    .venv/bin/python -m bench.wave --servers 1000 [--runs 3] [--scenario bench|zero-latency] [--rerun]
                                   [--servers-per-task 100] [--skip-baseline] [--keep]

One Prefect server (`prefect server start`, SQLite, in a temporary PREFECT_HOME) is started first
and serves the whole benchmark; its start-up is reported but excluded from every timing. Then
`--runs` times (at least 3), alternating so both see the same machine, each in a fresh process (so
each peak RSS is its own) with a fresh in-process sandbox (bench/scenario.yaml, ARM-like latencies
and default throttling; or the same world with no latency, where only orchestration costs time):

1. the `migration-wave` flow (flows.wave.migration_wave) over deployments/finance.yaml and a
   generated inventory of N servers of mixed source types;
2. bench/baseline.py: the same SDK calls in the flow's graph order on a bare thread pool, no Prefect.

Imports are done before the timer in both processes. The timer runs from the call to its return
(the flow call; the baseline's loading of the business unit and inventory, which the flow does
inside its run) and is split by the sandbox's ARM call window into start-up (call → first ARM
request), ARM window, and tail (last ARM answer → return). `--rerun` times a converged re-run:
the world is made first by the baseline (untimed), so the timed run writes nothing.

After the flow returns, the phase reads back from the Prefect server what it recorded (task runs
and their states, the servers table artifact, the servers named in log records), waiting for late
records until all are there or nothing has arrived for 30 s, and reports how long that took.
Figures are median [min..max] with the machine's 1-minute load average at each run's start; the
targets are printed, not asserted. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BUSINESS_UNIT,
    SCENARIOS,
    WAVE,
    DroppedRecords,
    PrefectServer,
    after_final_state,
    grep_dropped,
    import_lazy_modules,
    in_fresh_process,
    load_average,
    median_min_max,
    mib,
    peak_rss_bytes,
    redirect_output,
    split_times,
    spread,
    start_sandbox,
    warm_up,
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


async def _read_back(flow_run_id: str, servers: int, quiet_seconds: float = 30.0) -> dict[str, Any]:
    """What the Prefect server recorded for the run, polled until complete, or until nothing new
    has arrived for `quiet_seconds` (records come through batched workers and the server's event
    pipeline, seconds late on a loaded machine)."""
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
    started = changed = time.monotonic()
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
            flow_run = await client.read_flow_run(flow_run_id)
            now = {
                "task_runs": len(runs),
                "task_runs_completed": sum(1 for r in runs if r.state and r.state.is_completed()),
                "artifact_rows": len(rows) if isinstance(rows, list) else 0,
                "servers_logged": len(named),
                "flow_run_recorded": flow_run.state.type.value if flow_run.state else "",
                "log_records": offset,
            }
            complete = (
                now["artifact_rows"] == servers
                and now["servers_logged"] == servers
                and now["task_runs_completed"] == now["task_runs"]
                and now["flow_run_recorded"] == "COMPLETED"
            )
            if now != seen:
                seen, changed = now, time.monotonic()
            if complete or time.monotonic() - changed > quiet_seconds:
                now["records_settled_seconds"] = round(time.monotonic() - started, 1)
                now["records_complete"] = complete
                return now
            await asyncio.sleep(1)


def _converge(sandbox: Any, bu_file: str, inventory: str, work: str) -> None:
    """Make the wave's landing zone and accounts with the baseline (untimed); forget its calls."""
    from bench.baseline import run_baseline
    from plmigrate.azure import Target
    from plmigrate.inventory import load_inventory
    from plmigrate.model import load_business_unit

    bu = load_business_unit(bu_file)
    run_baseline(
        Target.sandbox(sandbox.info).paced(bu.limits), bu, WAVE, load_inventory(inventory, bu, WAVE), Path(work)
    )
    sandbox.world.forget_calls()


def wave_phase(
    api_url: str, server_env: dict[str, str], bu_file: str, inventory: str, work: str, scenario: str, rerun: bool
) -> dict[str, Any]:
    """Run in a fresh process: the migration-wave flow on a fresh sandbox."""
    os.environ.update(server_env)
    os.environ["PREFECT_API_URL"] = api_url
    redirect_output(Path(work) / "wave-phase.log")
    import asyncio

    from flows.wave import WaveRun, migration_wave

    import_lazy_modules()
    dropped = DroppedRecords().attach()
    sandbox = start_sandbox(scenario)
    if rerun:
        _converge(sandbox, bu_file, inventory, work)
    info = Path(work) / f"sandbox-wave-{os.getpid()}.json"
    sandbox.info.write(info)
    run = WaveRun(business_unit_file=bu_file, inventory_file=inventory, wave=WAVE, target=f"sandbox:{info}")
    load = load_average()
    started = time.monotonic()
    state = migration_wave(run, return_state=True)
    ended, returned_at = time.monotonic(), time.time()
    times = split_times(sandbox, started, ended) | {"after_final_seconds": after_final_state(state, returned_at)}
    arm = _arm(sandbox)
    report = state.result(raise_on_failure=False)
    failed = isinstance(report, BaseException)
    from plmigrate.inventory import load_inventory
    from plmigrate.model import load_business_unit

    total = len(load_inventory(inventory, load_business_unit(bu_file), WAVE))
    recorded = asyncio.run(_read_back(str(state.state_details.flow_run_id), total))
    sandbox.stop()
    return {
        **times,
        "load": load,
        "state": state.type.value,
        "error": repr(report) if failed else "",
        "servers": 0 if failed else len(report.servers),
        "ready": 0 if failed else report.counts["ready"],
        "blocked": total - (0 if failed else report.counts["ready"]),
        **arm,
        **recorded,
        "peak_rss": peak_rss_bytes(),
        "dropped": dropped.lines + grep_dropped(Path(work) / "wave-phase.log"),
    }


def baseline_phase(bu_file: str, inventory: str, work: str, scenario: str, rerun: bool) -> dict[str, Any]:
    """Run in a fresh process: bench/baseline.py on a fresh sandbox. No Prefect server is set."""
    redirect_output(Path(work) / "baseline-phase.log")
    # Everything the baseline runs is imported before the timer, as the flow phase's imports are.
    import prefect.logging  # noqa: F401

    import bench.graph  # noqa: F401
    import flows.wave  # noqa: F401
    from bench.baseline import run_baseline
    from plmigrate.azure import Target
    from plmigrate.inventory import load_inventory
    from plmigrate.model import load_business_unit

    import_lazy_modules()
    handler = logging.FileHandler(Path(work) / "baseline-servers.log")
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)s | %(message)s"))
    logging.getLogger("bench.baseline").addHandler(handler)
    logging.getLogger("bench.baseline").setLevel(logging.INFO)
    sandbox = start_sandbox(scenario)
    if rerun:
        _converge(sandbox, bu_file, inventory, work)
    load = load_average()
    started = time.monotonic()
    error, states, total = "", [], 0
    try:
        # Loaded inside the timer: the flow loads them inside its run.
        bu = load_business_unit(bu_file)
        servers = load_inventory(inventory, bu, WAVE)
        total = len(servers)
        report = run_baseline(Target.sandbox(sandbox.info).paced(bu.limits), bu, WAVE, servers, Path(work))
        states = report.servers
    except Exception as exc:  # reported, not hidden
        error = repr(exc)
    ended = time.monotonic()
    times = split_times(sandbox, started, ended)
    arm = _arm(sandbox)
    sandbox.stop()
    ready = sum(1 for s in states if s.state == "ready")
    return {
        **times,
        "load": load,
        "error": error,
        "servers": len(states),
        "ready": ready,
        "blocked": total - ready,
        **arm,
        "peak_rss": peak_rss_bytes(),
        "dropped": grep_dropped(Path(work) / "baseline-phase.log"),
    }


def _col(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in runs]


def _med(runs: list[dict[str, Any]], key: str) -> float:
    return median_min_max(_col(runs, key))[0]


def _table(n: int, label: str, waves: list[dict[str, Any]], bases: list[dict[str, Any]], server: PrefectServer) -> str:
    def row(name: str, key: str) -> str:
        return f"| {name} | {spread(_col(waves, key))} | {spread(_col(bases, key)) if bases else 'skipped'} |"

    def same(key: str) -> str:
        return ", ".join(sorted({str(r[key]) for r in waves}))

    def same_b(key: str) -> str:
        return ", ".join(sorted({str(r[key]) for r in bases})) if bases else "—"

    w = _med(waves, "wall_seconds")
    b = _med(bases, "wall_seconds") if bases else 0.0
    calls_match = all(r["calls"] == bases[0]["calls"] for r in waves + bases) if bases else None
    lines = [
        f"| N = {n} servers, {label}, {len(waves)} runs (median [min..max]) | migration-wave (Prefect) | "
        "baseline (no Prefect) |",
        "| --- | --- | --- |",
        row("wall", "wall_seconds"),
        row("start-up (call → first ARM request)", "startup_seconds"),
        row("ARM window (first request → last answer)", "arm_seconds"),
        row("tail (last ARM answer → return)", "tail_seconds"),
        f"| of it, after the Completed state (state API call, heartbeat join) | "
        f"{spread(_col(waves, 'after_final_seconds'))} | — |",
        f"| ratio wave / baseline (medians) | **{w / b:.2f}** | |" if b else "| ratio | — | |",
        f"| Prefect overhead: wave - baseline (medians) | {w - b:.2f} s | |" if b else "| overhead | — | |",
        f"| ARM reads / writes / 429s | {same('reads')} / {same('writes')} / {same('throttled')} | "
        f"{same_b('reads')} / {same_b('writes')} / {same_b('throttled')} |",
        f"| same ARM calls (method, type, status, count) in every run | {_yes(calls_match)} | |",
        f"| peak RSS (bench process) | {spread([r['peak_rss'] / 2**20 for r in waves], ' MiB', 0)} | "
        f"{spread([r['peak_rss'] / 2**20 for r in bases], ' MiB', 0) if bases else '—'} |",
        f"| peak RSS (Prefect server) | {mib(server.peak_rss_bytes())} | — |",
        f"| servers ready / blocked | {same('ready')} / {same('blocked')} | {same_b('ready')} / {same_b('blocked')} |",
        f"| flow run state | {same('state')} {' '.join(r['error'] for r in waves if r['error'])} | "
        f"{' '.join(r['error'] for r in bases if r['error']) or '—'} |",
        f"| task runs recorded (completed) | {same('task_runs')} ({same('task_runs_completed')}) | — |",
        f"| log records recorded | {same('log_records')} | — |",
        f"| table artifact rows | {same('artifact_rows')} of {n} | — |",
        f"| servers named in log records | {same('servers_logged')} of {n} | — |",
        f"| records complete / read back after | {same('records_complete')} / "
        f"{spread(_col(waves, 'records_settled_seconds'), ' s', 1)} | — |",
        f"| queue-full / dropped warnings | {sum(len(r['dropped']) for r in waves)} | "
        f"{sum(len(r['dropped']) for r in bases) if bases else '—'} |",
        f"| load average at start (1 min) | {spread(_col(waves, 'load'), '', 1)} | "
        f"{spread(_col(bases, 'load'), '', 1) if bases else '—'} |",
    ]  # fmt: skip
    return "\n".join(lines)


def _yes(value: bool | None) -> str:
    return "—" if value is None else "yes" if value else "**no**"


def _targets(n: int, rerun: bool, scenario: str, waves: list[dict[str, Any]], bases: list[dict[str, Any]]) -> list[str]:
    """The issue's targets that apply to this configuration, with whether they were met."""
    if not bases or scenario != "bench":
        return []
    w, b, tail = _med(waves, "wall_seconds"), _med(bases, "wall_seconds"), _med(waves, "tail_seconds")

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    if rerun:
        return [
            f"target: converged re-run, Prefect overhead <= 2 s above the baseline: "
            f"{w - b:.2f} s ({verdict(w - b <= 2)})"
        ]
    found = []
    if n <= 1000:
        found.append(f"target: wave / baseline <= 1.25 at 1,000 servers: {w / b:.3f} ({verdict(w / b <= 1.25)})")
    else:
        found.append(f"target: wave / baseline <= 1.4 at 10,000 servers: {w / b:.3f} ({verdict(w / b <= 1.4)})")
        found.append(f"target: tail after the last ARM call <= 3 s: {tail:.2f} s ({verdict(tail <= 3)})")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, required=True, help="servers in the wave")
    parser.add_argument("--runs", type=int, default=3, help="runs of each phase (at least 3)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="bench", help="latencies (bench) or none")
    parser.add_argument("--rerun", action="store_true", help="time a re-run on a converged world")
    parser.add_argument("--servers-per-task", type=int, default=None, help="override limits.servers_per_task")
    parser.add_argument("--skip-baseline", action="store_true", help="run only the Prefect wave")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, Prefect database)")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs: at least 3 (figures are medians)")

    work = Path(tempfile.mkdtemp(prefix="plmigrate-bench-"))
    bu_file = _business_unit_file(work, args.servers_per_task)
    inventory = write_inventory(work / "wave.csv", args.servers)
    label = ("converged re-run" if args.rerun else "fresh") + f", {args.scenario} latencies"
    print(
        f"bench: {args.servers} servers, {label}, {platform.node()} ({os.cpu_count()} CPUs), load "
        f"{load_average():.1f}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, work dir {work}",
        file=sys.stderr,
    )
    server = PrefectServer(work).start()
    print(f"bench: Prefect server up in {server.start_seconds:.1f} s (excluded from every timing)", file=sys.stderr)
    warmed = warm_up(server, work)
    print(f"bench: the server's first flow run (untimed warm-up) took {warmed:.1f} s", file=sys.stderr)
    waves: list[dict[str, Any]] = []
    bases: list[dict[str, Any]] = []
    try:
        for i in range(args.runs):
            waves.append(
                in_fresh_process(
                    wave_phase,
                    server.api_url,
                    server.env(),
                    str(bu_file),
                    str(inventory),
                    str(work),
                    args.scenario,
                    args.rerun,
                )
            )
            message = f"bench: run {i + 1}: wave {waves[-1]['wall_seconds']:.2f} s"
            if not args.skip_baseline:
                bases.append(
                    in_fresh_process(baseline_phase, str(bu_file), str(inventory), str(work), args.scenario, args.rerun)
                )
                message += f", baseline {bases[-1]['wall_seconds']:.2f} s"
            print(message + f" (load {waves[-1]['load']:.1f})", file=sys.stderr)
        server_dropped = grep_dropped(server.log)
        waves[-1]["dropped"] += [f"server: {line}" for line in server_dropped]
        print(_table(args.servers, label, waves, bases, server))
        for line in [d for r in waves for d in r["dropped"]][:20]:
            print(f"  dropped-record warning: {line}")
        for line in _targets(args.servers, args.rerun, args.scenario, waves, bases):
            print(line)
        failed = any(r["state"] != "COMPLETED" or r["blocked"] for r in waves) or any(
            r["error"] or r["blocked"] for r in bases
        )
        incomplete = any(r["dropped"] or not r["records_complete"] for r in waves)
        return 1 if failed or incomplete else 0
    finally:
        server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
