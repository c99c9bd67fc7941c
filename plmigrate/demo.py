"""`make demo`: the main job on the sandbox, start to finish, with nothing to set up.

Starts the sandbox with the default scenario (Contoso finance before its first wave), writes its
info file to .sandbox/info.json, and runs the private-link landing-zone flow for
deployments/finance.yaml. One storage account (stfincache01) belongs to a storage team that must
approve our endpoint: the run pauses, the demo plays the storage team (approving through the
sandbox's admin API, as the owner would in the portal) and resumes the run from outside, as a
person would with the Resume button in the Prefect UI.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import threading
import time
import urllib.request
from pathlib import Path

from plmigrate.sandbox import Sandbox, Scenario

ROOT = Path(__file__).resolve().parents[1]
INFO = ROOT / ".sandbox" / "info.json"
BUSINESS_UNIT = ROOT / "deployments" / "finance.yaml"


def _say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _paused_run_id() -> str | None:
    from prefect.client.orchestration import get_client

    async def find() -> str | None:
        async with get_client() as client:
            for run in await client.read_flow_runs():
                if run.state and run.state.is_paused():
                    return str(run.id)
        return None

    return asyncio.run(find())


def play_the_storage_owner(sandbox: Sandbox, stop: threading.Event) -> None:
    """Wait for the run to pause on a pending connection, approve it as the owner, resume the run."""
    from prefect.flow_runs import resume_flow_run

    while not stop.is_set():
        run_id = _paused_run_id()
        if run_id:
            break
        time.sleep(1)
    else:
        return
    pending = [
        (c["id"].split("/privateEndpointConnections/")[0], c["name"])
        for c in sandbox.world.by_type("Microsoft.Storage/storageAccounts/privateEndpointConnections")
        if c["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
    ]
    _say(f"Run {run_id} is paused: {len(pending)} connection(s) await the storage team's approval")
    for account_id, name in pending:
        print(f"    storage team approves {name} on {account_id.split('/')[-1]}", flush=True)
        body = json.dumps({"target_id": account_id, "connection_name": name, "status": "Approved"}).encode()
        request = urllib.request.Request(sandbox.info.admin_url + "/connections", data=body, method="POST")
        request.add_header("Authorization", f"Bearer {sandbox.info.token}")
        request.add_header("Content-Type", "application/json")
        urllib.request.urlopen(request, context=ssl.create_default_context(cafile=sandbox.info.ca_file)).read()
    _say("Resuming the run (the Resume button in the Prefect UI does the same)")
    resume_flow_run(run_id, run_input={"approved_by": "storage team (demo)", "note": "approved in the portal"})


def main() -> int:
    from flows.private_link import private_link_landing_zone
    from plmigrate.report import render_markdown

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    _say("Starting the sandbox (Azure Resource Manager over HTTPS + on-prem DNS) with the default scenario")
    with Sandbox(Scenario.load("default")) as sandbox:
        sandbox.info.write(INFO)
        print(f"    ARM {sandbox.info.arm_url}  DNS {sandbox.info.dns_host}:{sandbox.info.dns_port}  info {INFO}")
        stop = threading.Event()
        owner = threading.Thread(target=play_the_storage_owner, args=(sandbox, stop), daemon=True)
        owner.start()
        _say(f"Running the private-link landing-zone flow for {BUSINESS_UNIT.relative_to(ROOT)}")
        try:
            report = private_link_landing_zone(str(BUSINESS_UNIT), f"sandbox:{INFO}")
        finally:
            stop.set()
        _say("Summary")
        print(render_markdown(report))
        calls = sandbox.world.call_report()
        print(f"ARM calls: {calls['reads']} reads, {calls['writes']} writes, {calls['throttled']} throttled")
    api = os.environ.get("PREFECT_API_URL")
    if api:
        print(f"\nIn the Prefect UI ({api.removesuffix('/api')}): Runs → private-link-landing-zone → Artifacts.")
    else:
        print(
            "\nThis run used a temporary Prefect server. To browse runs, logs and artifacts in the UI, start one with"
            " `.venv/bin/prefect server start`, export PREFECT_API_URL=http://127.0.0.1:4200/api and run"
            " `make demo` again; then open http://127.0.0.1:4200 → Runs → private-link-landing-zone → Artifacts."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
