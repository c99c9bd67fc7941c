"""`make demo`: the main job on the sandbox, start to finish, with nothing to set up.

Starts the sandbox with the default scenario (Contoso finance before its first wave), writes its
info file to a file of its own under .sandbox/ (never .sandbox/info.json, which may be a sandbox
someone is running; removed when the demo ends), and runs the private-link landing-zone flow for
deployments/finance.yaml, then migration wave wave-01: readiness, then (docs/lifecycle.md) the
appliance registered as a person would, the wave taken to `tested`, two servers cut over with a
change ticket. One storage account (stfincache01) belongs to a storage team that must
approve our endpoint: the demo plays the storage team (approving through the sandbox's admin API,
as the owner would in the portal). On a Prefect server you can open (PREFECT_API_URL set) the run
pauses and the demo resumes it from outside, as a person would with the Resume button in the UI;
on a temporary one the run re-reads Azure and goes on by itself (plmigrate.approval.wait_mode).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plmigrate.sandbox import Sandbox, Scenario
from plmigrate.sandbox.serve import AdminClient

ROOT = Path(__file__).resolve().parents[1]
INFO = ROOT / ".sandbox" / f"demo-{os.getpid()}.json"
BUSINESS_UNIT = ROOT / "deployments" / "finance.yaml"
INVENTORY = ROOT / "deployments" / "waves" / "finance.csv"
WAVE = "wave-01"


def _server_lines(wave: object) -> str:
    rows = [f"  {s.server:<16} {s.state:<8} {s.source_type:<9} cache: {s.cache_account or '-'}" for s in wave.servers]
    return "\n".join(["Servers:", *rows])


def _say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def paused_run_id() -> str | None:
    """The ID of a flow run now paused (waiting for someone to resume it), if any."""
    from prefect.client.orchestration import get_client

    async def find() -> str | None:
        async with get_client() as client:
            for run in await client.read_flow_runs():
                if run.state and run.state.is_paused():
                    return str(run.id)
        return None

    return asyncio.run(find())


def play_the_storage_owner(sandbox: Sandbox, stop: threading.Event) -> None:
    """Wait for a connection to await its owner, approve it as the owner, and resume the run where
    it pauses for that (a Prefect server a person can open); elsewhere the run notices by itself."""
    from prefect.flow_runs import resume_flow_run
    from prefect.settings import PREFECT_API_URL

    from plmigrate.approval import wait_mode

    pauses = wait_mode(True, PREFECT_API_URL.value(), None) == "pause"

    def pending_connections() -> list[dict]:
        return [
            c
            for c in sandbox.world.by_type("Microsoft.Storage/storageAccounts/privateEndpointConnections")
            if c["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
        ]

    # Ask Prefect only once the run is under way (and so its server is up): a pending connection
    # shows the flow has reached the approval step.
    while not stop.is_set() and not pending_connections():
        time.sleep(0.5)
    run_id = None
    while pauses and not stop.is_set() and not run_id:
        run_id = paused_run_id()
        time.sleep(1)
    if stop.is_set():
        return
    admin = AdminClient(sandbox.info)
    pending = pending_connections()
    waiting = f"Run {run_id} is paused" if run_id else "The run re-reads Azure"
    _say(f"{waiting}: {len(pending)} connection(s) await the storage team's approval")
    for connection in pending:
        account_id = connection["id"].split("/privateEndpointConnections/")[0]
        print(f"    storage team approves {connection['name']} on {account_id.split('/')[-1]}", flush=True)
        admin.decide(account_id, "Approved", connection_name=connection["name"], description="Approved in the portal")
    if run_id:
        _say("Resuming the run (the Resume button in the Prefect UI does the same)")
        resume_flow_run(run_id, run_input={"approved_by": "storage team (demo)", "note": "approved in the portal"})


@contextmanager
def _info_file(sandbox: Sandbox) -> Iterator[Path]:
    """The demo sandbox's info file, for the flows' target; gone when the demo ends, as its TLS
    material is (a file left behind would point the next command at a stopped sandbox)."""
    sandbox.info.write(INFO)
    try:
        yield INFO
    finally:
        INFO.unlink(missing_ok=True)


def _stage_lines(lifecycle: object) -> str:
    rows = [
        f"  {s.server:<16} {s.stage:<13} {(f'{s.progress:g}%' if s.progress is not None else ''):>5}  {s.reason}"
        for s in lifecycle.servers
    ]
    counts = ", ".join(f"{n} {stage}" for stage, n in lifecycle.counts.items() if n)
    return "\n".join(["Servers:", *rows, f"({counts}; {lifecycle.writes} writes)"])


@contextmanager
def _cutover_window_now() -> Iterator[Path]:
    """deployments/finance.yaml with a cutover window open for the next two hours, as the change
    board would grant for tonight's demo (the shipped file's windows are weekend nights)."""
    import datetime as dt

    import yaml

    data = yaml.safe_load(BUSINESS_UNIT.read_text())
    zone = data["migration"]["cutover"]["time_zone"]
    now = dt.datetime.now(__import__("zoneinfo").ZoneInfo(zone))
    later = now + dt.timedelta(hours=2)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    data["migration"]["cutover"]["windows"] = [
        {"days": [days[now.weekday()]], "start": now.strftime("%H:%M"), "end": later.strftime("%H:%M")}
    ]
    path = ROOT / ".sandbox" / f"demo-bu-{os.getpid()}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def move_servers(sandbox: Sandbox, vault_id: str) -> None:
    """After the landing zone: register the appliance, take the wave to `tested`, then cut two
    servers over with a change ticket, printing each server's stage."""
    from flows.wave import WaveRun, migration_wave
    from plmigrate.cli import main as plmigrate

    target = f"sandbox:{INFO}"
    _say("Registering appliance-fin-01 with the vault (on the appliance, with the vault's key file)")
    plmigrate(["sandbox", "register-appliance", "--info", str(INFO), "--vault", vault_id, "appliance-fin-01"])

    _say(f"Taking {WAVE} to tested: replication, initial replication, test migration in the isolated test VNet")
    tested = migration_wave(
        WaveRun(business_unit_file=str(BUSINESS_UNIT), inventory_file=str(INVENTORY), wave=WAVE, target=target,
                to="tested")
    )  # fmt: skip
    print(_stage_lines(tested.lifecycle))

    two = ["fin-web-01", "fin-web-02"]
    _say("A cutover without a change ticket is refused before anything runs (exit 2):")
    print(f"    $ plmigrate wave {BUSINESS_UNIT.relative_to(ROOT)} {WAVE} --to migrated --servers {','.join(two)}")
    code = plmigrate(
        ["wave", str(BUSINESS_UNIT), WAVE, "--to", "migrated", "--servers", ",".join(two), "--sandbox", str(INFO)]
    )
    print(f"    exit {code}")
    with _cutover_window_now() as business_unit:
        _say(
            f"Cutting over {' and '.join(two)} under change CHG0042, inside tonight's cutover window: failover with "
            "the source shut down, commit, replication removed (the VMs kept)"
        )
        cut = migration_wave(
            WaveRun(business_unit_file=str(business_unit), inventory_file=str(INVENTORY), wave=WAVE, target=target,
                    to="completed", change="CHG0042", approver="finance change board", servers=two)
        )  # fmt: skip
    print(_stage_lines(cut.lifecycle))
    evidence = cut.lifecycle.cutover
    if evidence:
        print(f"Evidence: change {evidence.change}, approved by {evidence.approver} at {evidence.approved_at}")


def main() -> int:
    from flows.private_link import private_link_landing_zone
    from flows.wave import WaveRun, migration_wave
    from plmigrate.report import render_markdown
    from plmigrate.wave import render_wave_markdown

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here to send it to
    os.environ.setdefault("DO_NOT_TRACK", "1")  # nor the client's: its notice would land in the demo's output
    # Prefect's 20 s for its temporary server's start-up is too short on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    _say("Starting the sandbox (Azure Resource Manager over HTTPS + on-prem DNS) with the default scenario")
    with Sandbox(Scenario.load("default")) as sandbox, _info_file(sandbox):
        print(f"    ARM {sandbox.info.arm_url}  DNS {sandbox.info.dns_host}:{sandbox.info.dns_port}  info {INFO}")
        stop = threading.Event()
        owner = threading.Thread(target=play_the_storage_owner, args=(sandbox, stop), daemon=True)
        owner.start()
        _say(f"Running the private-link landing-zone flow for {BUSINESS_UNIT.relative_to(ROOT)}")
        try:
            report = private_link_landing_zone(str(BUSINESS_UNIT), f"sandbox:{INFO}")
        finally:
            stop.set()
        _say("Landing zone summary")
        print(render_markdown(report))
        calls = sandbox.world.call_report()
        print(f"ARM calls so far: {calls['reads']} reads, {calls['writes']} writes, {calls['throttled']} throttled")

        _say(f"Running migration wave {WAVE} from {INVENTORY.relative_to(ROOT)}")
        wave = migration_wave(
            WaveRun(
                business_unit_file=str(BUSINESS_UNIT),
                inventory_file=str(INVENTORY),
                wave=WAVE,
                target=f"sandbox:{INFO}",
            )
        )
        _say("Wave summary")
        print(render_wave_markdown(wave))
        print(_server_lines(wave))
        after = sandbox.world.call_report()
        print(
            f"Wave ARM calls: {after['reads'] - calls['reads']} reads, {after['writes'] - calls['writes']} writes "
            "(the landing zone was already in place)"
        )
        move_servers(sandbox, report.vault.id)
    api = os.environ.get("PREFECT_API_URL")
    if api:
        print(
            f"\nIn the Prefect UI ({api.removesuffix('/api')}): "
            "Runs → private-link-landing-zone and migration-wave → Artifacts."
        )
    else:
        print(
            "\nThis run used a temporary Prefect server. To browse runs, logs and artifacts in the UI, start one with"
            " `.venv/bin/prefect server start`, export PREFECT_API_URL=http://127.0.0.1:4200/api and run"
            " `make demo` again; then open http://127.0.0.1:4200 → Runs → migration-wave → Artifacts"
            " (servers table, progress, summary)."
        )
    return 0


def run() -> int:
    """main(), with a temporary Prefect server that did not start said as what to do instead."""
    from plmigrate.cli import ServerDidNotStart, server_start_explained

    try:
        with server_start_explained():
            return main()
    except ServerDidNotStart as exc:
        print(f"\nmake demo: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
