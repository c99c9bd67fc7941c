"""`plmigrate sandbox serve` as a real process: info file, real SDK calls, SIGTERM, --state, bad input;
and the `approve` / `calls` subcommands against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError

from plmigrate.azure import Target, clients
from plmigrate.cli import build_parser, main
from plmigrate.sandbox import SandboxInfo
from plmigrate.sandbox.serve import InvalidInput, load_scenario

ROOT = Path(__file__).resolve().parents[2]


class Served:
    """One `python -m plmigrate sandbox serve` child process."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.info_file = tmp / "info.json"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plmigrate",
                "sandbox",
                "serve",
                "--port",
                "0",
                "--info",
                str(self.info_file),
                *args,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for_info(self, timeout: float = 60.0) -> SandboxInfo:  # a loaded machine: imports take seconds
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.info_file.exists():
                return SandboxInfo.read(self.info_file)
            if self.proc.poll() is not None:
                pytest.fail(f"serve exited {self.proc.returncode}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.05)
        pytest.fail("serve wrote no info file")

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(signum)
        _, stderr = self.proc.communicate(timeout=10)
        return self.proc.returncode, stderr

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plmigrate", "sandbox", *args, "--info", str(self.info_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for child in started:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.communicate()


def test_serve_answers_the_sdk_and_stops_cleanly_on_sigterm(tmp_path: Path, served: list[Served]) -> None:
    child = Served(tmp_path, "--scenario", "empty")
    served.append(child)
    info = child.wait_for_info()
    assert info.arm_url.startswith("https://127.0.0.1:")
    assert info.admin_url == info.arm_url + "/_sandbox"
    assert Path(info.ca_file).is_file() and info.dns_port > 0
    assert oct(child.info_file.stat().st_mode & 0o777) == "0o600"

    azure = clients(Target.sandbox(child.info_file))
    created = azure.resources.resource_groups.create_or_update("rg-served", {"location": "eastus"})
    assert created.id == f"/subscriptions/{info.subscription_id}/resourceGroups/rg-served"
    assert azure.resources.resource_groups.get("RG-SERVED").location == "eastus"

    counted = json.loads(child.run_cli("calls").stdout)
    assert {"method": "PUT", "resource_type": "Microsoft.Resources/resourceGroups", "status": 201, "count": 1} in (
        counted["calls"]
    )
    assert counted["writes"] == 1

    code, stderr = child.stop()
    assert code == 0, stderr
    assert "sandbox listening: ARM " + info.arm_url in stderr
    assert info.token not in stderr
    assert not child.info_file.exists()  # its CA file is gone too: a stale file would mislead
    assert not Path(info.ca_file).exists()


def test_state_survives_a_restart_and_sigint_stops_too(tmp_path: Path, served: list[Served]) -> None:
    state = tmp_path / "world.json"
    first = Served(tmp_path, "--scenario", "empty", "--state", str(state))
    served.append(first)
    clients(Target.sandbox(first.wait_for_info())).resources.resource_groups.create_or_update(
        "rg-kept", {"location": "westeurope", "tags": {"bu": "finance"}}
    )
    code, stderr = first.stop(signal.SIGINT)
    assert code == 0, stderr
    assert f"state saved to {state}" in stderr
    assert state.exists()

    second = Served(tmp_path, "--scenario", "empty", "--state", str(state))
    served.append(second)
    info = second.wait_for_info()
    azure = clients(Target.sandbox(info))
    kept = azure.resources.resource_groups.get("rg-kept")
    assert (kept.location, kept.tags) == ("westeurope", {"bu": "finance"})
    assert second.stop()[0] == 0

    # Without --state the world starts from the scenario again.
    third = Served(tmp_path, "--scenario", "empty")
    served.append(third)
    with pytest.raises(ResourceNotFoundError):
        clients(Target.sandbox(third.wait_for_info())).resources.resource_groups.get("rg-kept")
    assert third.stop()[0] == 0


def test_a_bad_scenario_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("virtual_networks:\n  - {resource_group: rg, name: v, location: eastus}\nlro_poll: 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "plmigrate", "sandbox", "serve", "--scenario", str(bad), "--info", str(tmp_path / "i")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert "virtual_networks.0.address_prefixes: Field required" in lines[0]
    assert "lro_poll: Extra inputs are not permitted" in lines[0]
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("storage_accounts:\n  - {resource_group: rg, name: st, location: x, kind: V9}\n", "storage_accounts.0.kind"),
        ("faults: [{status: abc}]\n", "faults.0.status"),
        ("resource_groups: [unclosed\n", "is not valid YAML"),
    ],
)
def test_scenario_errors_name_what_is_wrong(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=expected.replace(".", r"\.")):
        load_scenario(str(path))


def test_shipped_scenarios_load_by_name() -> None:
    assert load_scenario("empty").storage_accounts == []
    assert {a.name for a in load_scenario("default").storage_accounts} >= {"stfincache01"}


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["sandbox", "serve"])  # --info is required
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["sandbox", "serve", "--info", "x", "--port", "70000"])
    assert exited.value.code == 2
    assert main(["sandbox", "calls", "--info", str(tmp_path / "missing.json")]) == 2
    assert "does not exist: is the sandbox running?" in capsys.readouterr().err
    state = tmp_path / "state.json"
    state.write_text("{not json")
    assert main(["sandbox", "serve", "--scenario", "empty", "--state", str(state), "--info", str(tmp_path / "i")]) == 2
    assert "state file" in capsys.readouterr().err


def test_serve_fails_with_1_when_the_port_is_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code = main(["sandbox", "serve", "--scenario", "empty", "--port", port, "--info", str(tmp_path / "i")])
    assert code == 1
    assert "Address already in use" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()


def test_approve_decides_pending_connections_as_the_owner(tmp_path: Path, served: list[Served]) -> None:
    """Needs the network and storage providers: a private endpoint to an account we may not approve on."""
    child = Served(tmp_path)  # the default scenario: stfincache01's owner must approve
    served.append(child)
    info = child.wait_for_info()
    azure = clients(Target.sandbox(info))
    sub = info.subscription_id
    account_id = (
        f"/subscriptions/{sub}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/"
        "storageAccounts/stfincache01"
    )
    subnet_id = (
        f"/subscriptions/{sub}/resourceGroups/rg-network-hub/providers/Microsoft.Network/virtualNetworks/"
        "vnet-hub-eastus/subnets/snet-private-endpoints"
    )
    nothing = child.run_cli("approve", account_id)
    assert nothing.returncode == 1
    assert "no pending private endpoint connection" in nothing.stderr

    azure.network.private_endpoints.begin_create_or_update(
        "rg-network-hub",
        "pe-stfincache01-blob",
        {
            "location": "eastus",
            "properties": {
                "subnet": {"id": subnet_id},
                # A manual connection: we may not approve on this account (automatic would be a 403).
                "manualPrivateLinkServiceConnections": [
                    {"name": "blob", "properties": {"privateLinkServiceId": account_id, "groupIds": ["blob"]}}
                ],
            },
        },
    ).result()

    def endpoint_state() -> str:
        endpoint = azure.network.private_endpoints.get("rg-network-hub", "pe-stfincache01-blob")
        return endpoint.manual_private_link_service_connections[0].private_link_service_connection_state.status

    assert endpoint_state() == "Pending"
    approved = child.run_cli("approve", account_id)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith("Approved: " + account_id + "/privateEndpointConnections/")
    assert endpoint_state() == "Approved"
    rejected = child.run_cli("approve", account_id, "--reject")  # nothing is Pending any more
    assert rejected.returncode == 1
    assert endpoint_state() == "Approved"
    assert child.stop()[0] == 0


def test_python_dash_m_and_the_entry_point_agree() -> None:
    scripts = Path(sys.executable).parent / "plmigrate"
    if not scripts.exists() or not os.access(scripts, os.X_OK):
        pytest.skip("the plmigrate script is not installed in this environment")
    result = subprocess.run([str(scripts), "sandbox", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "serve" in result.stdout and "approve" in result.stdout and "calls" in result.stdout
