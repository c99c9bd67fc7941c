"""Security, proved on the sandbox through real Prefect runs: no secret leaves (a canary token is
nowhere in logs, artifacts, exceptions, CLI output or flow parameters), least privilege (the only
role assignments made are the vault identity's required roles at storage-account scope), the
sandbox refuses unauthenticated calls, and a wrong subscription or tenant is refused before any
write."""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from plmigrate.errors import InputError
from plmigrate.rules import required_roles
from tests.pipeline.conftest import all_approvable, default_scenario, info_file
from tests.pipeline.test_wave import run, write_inventory

CANARY = "CANARY-7f3e9a1c-do-not-leak"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"


def _everything_prefect_kept() -> str:
    """Every log, artifact, flow run parameter and state message the Prefect server holds, as text."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs reach the server in batches; this waits for the queue to drain
    parts: list[str] = []
    with get_client(sync_client=True) as client:
        offset = 0
        while batch := client.read_logs(limit=200, offset=offset):
            parts += [log.message for log in batch]
            offset += len(batch)
        assert offset > 0, "no logs came back: the check would prove nothing"
        artifacts = client.read_artifacts(limit=200)
        assert artifacts, "no artifacts came back"
        parts += [json.dumps(a.data, default=str) + (a.description or "") for a in artifacts]
        runs = client.read_flow_runs(limit=200)
        parts += [json.dumps(r.parameters, default=str) + ((r.state.message or "") if r.state else "") for r in runs]
    return "\n".join(parts)


def _result_files() -> str:
    """Whatever Prefect persisted as task or flow results in this session."""
    root = Path(os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"])
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file())


def test_a_canary_token_leaks_nowhere(make_sandbox, business_unit, tmp_path, caplog, capsys) -> None:
    from plmigrate.cli import main

    caplog.set_level(logging.DEBUG)
    data = all_approvable(default_scenario())
    # The failing run: the vault cannot be made (a caller-side error, not retried).
    failing = data | {
        "faults": [
            {
                "method": "PUT",
                "resource_type": "Microsoft.RecoveryServices/vaults",
                "status": 403,
                "code": "AuthorizationFailed",
                "message": "The client does not have authorization to perform action 'vaults/write'.",
            }
        ]
    }
    good = make_sandbox(data, token=CANARY)
    bad = make_sandbox(failing, token=CANARY)
    bu = business_unit()
    inventory = write_inventory(tmp_path / "wave.csv", 12)
    report = run(bu, inventory, info_file(good, tmp_path))
    assert report.counts == {"ready": 12, "blocked": 0}
    assert CANARY not in report.model_dump_json()

    bad_info = tmp_path / "bad"
    bad_info.mkdir()
    with pytest.raises(Exception) as failed:
        run(bu, inventory, info_file(bad, bad_info))
    assert "AuthorizationFailed" in str(failed.value)
    exception_text = "".join(traceback.format_exception(failed.value)) + repr(failed.value)

    good_file, bad_file = tmp_path / "good.json", bad_info / "cli.json"
    good.info.write(good_file)
    bad.info.write(bad_file)
    assert main(["wave", str(bu), "wave-01", "--inventory", str(inventory), "--sandbox", str(good_file)]) == 0
    assert main(["wave", str(bu), "wave-01", "--inventory", str(inventory), "--sandbox", str(bad_file)]) != 0
    out, err = capsys.readouterr()
    assert "srv-00000" in out and "AuthorizationFailed" in err  # the output is there, without the token

    kept = _everything_prefect_kept()
    # The read-back sees this test's runs (so a leak would show): a server's log line and the failure.
    assert re.search(r"servers ready \(.*\): .*srv-00011", kept) and "AuthorizationFailed" in kept
    logged = "\n".join(r.getMessage() + repr(r.args) + (r.exc_text or "") for r in caplog.records)
    assert len(caplog.records) > 50
    for where, text in {
        "caplog": logged,
        "exception": exception_text,
        "CLI output": out + err,
        "Prefect server": kept,
        "Prefect result storage": _result_files(),
    }.items():
        assert CANARY not in text, f"the token leaked into {where}"
    # The token does travel where it must: to the sandbox, as a bearer token.
    assert good.world.call_report()["reads"] > 0


def _role_assignments(box) -> list[dict[str, Any]]:
    return box.world.by_type("Microsoft.Authorization/roleAssignments")


def test_the_only_roles_granted_are_the_vault_identitys_at_account_scope(world, business_unit, tmp_path) -> None:
    box = world(all_approvable(default_scenario()))
    before = {r["id"].lower() for r in _role_assignments(box)}
    run(business_unit(), write_inventory(tmp_path / "wave.csv", 16), info_file(box, tmp_path))
    vault = box.world.by_type("Microsoft.RecoveryServices/vaults")[0]
    principal = vault["identity"]["principalId"]
    accounts = {a["id"].lower(): a["sku"]["name"] for a in box.world.by_type("Microsoft.Storage/storageAccounts")}
    made = [r for r in _role_assignments(box) if r["id"].lower() not in before]
    granted = {
        (
            r["properties"]["scope"].lower(),
            r["properties"]["roleDefinitionId"].rsplit("/", 1)[-1].lower(),
            r["properties"]["principalId"],
        )
        for r in made
    }
    expected = {
        (scope, role.lower(), principal) for scope, sku in accounts.items() for role in required_roles(sku)
    }  # fmt: skip
    assert {r for s, r, p in expected if "premrepl" in s} == {CONTRIBUTOR, BLOB_OWNER}
    assert {r for s, r, p in expected if "stfinrepl01" in s} == {CONTRIBUTOR, BLOB_CONTRIBUTOR}
    assert granted == expected
    assert len(made) == len(expected) == 6
    held = [r for r in _role_assignments(box) if r["properties"]["principalId"] == principal]
    assert {r["properties"]["scope"].lower() for r in held} == set(accounts)  # no RG or subscription scope
    for r in made:
        assert r["properties"]["principalType"] == "ServicePrincipal"


# -- the sandbox refuses unauthenticated calls ---------------------------------------------------
def _call(url: str, ca_file: str, token: str | None) -> tuple[int, dict[str, Any], str]:
    request = urllib.request.Request(url, method="GET")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca_file), timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("WWW-Authenticate", "")


@pytest.mark.parametrize("api", ["arm", "admin"])
def test_the_sandbox_refuses_calls_without_the_token(make_sandbox, api: str) -> None:
    box = make_sandbox("default", token=CANARY)
    info = box.info
    url = (
        f"{info.arm_url}/subscriptions/{info.subscription_id}/resourcegroups?api-version=2025-04-01"
        if api == "arm"
        else f"{info.admin_url}/state"
    )
    status, body, challenge = _call(url, info.ca_file, None)
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    assert "'Authorization' header is missing" in body["error"]["message"]
    assert challenge.startswith("Bearer authorization_uri=")
    status, body, _ = _call(url, info.ca_file, "not-the-token")
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    assert body["error"]["message"] == "The access token is invalid."
    assert _call(url, info.ca_file, CANARY)[0] == 200
    assert box.world.call_report()["writes"] == 0


def test_the_sdk_with_a_wrong_token_gets_401_and_writes_nothing(make_sandbox) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from plmigrate.azure import Target, clients

    box = make_sandbox("default", token=CANARY)
    wrong = Target.sandbox(box.info)
    wrong = Target(**{**wrong.__dict__, "token": "stolen-or-stale"})
    with pytest.raises(ClientAuthenticationError) as refused:
        clients(wrong).resources.resource_groups.create_or_update("rg-x", {"location": "eastus"})
    assert refused.value.status_code == 401
    assert "InvalidAuthenticationToken" in str(refused.value)
    assert box.world.get(f"/subscriptions/{box.info.subscription_id}/resourceGroups/rg-x") is None


# -- subscription and tenant are checked before the first write ----------------------------------
def test_a_wave_for_another_tenant_is_refused_before_any_write(world, business_unit, tmp_path) -> None:
    box = world(all_approvable(default_scenario()))
    bu = business_unit(tenant_id="99999999-0000-0000-0000-000000000000")
    with pytest.raises(InputError) as bad:
        run(bu, write_inventory(tmp_path / "wave.csv", 4), info_file(box, tmp_path))
    assert "tenant_id: subscription 00000000-0000-0000-0000-00000000a11e belongs to tenant" in str(bad.value)
    assert box.world.call_report()["writes"] == 0


def test_a_wave_for_another_subscription_is_refused_before_any_call(world, business_unit, tmp_path) -> None:
    box = world(all_approvable(default_scenario()))
    bu = business_unit(subscription_id="33333333-0000-0000-0000-000000000000")
    with pytest.raises(Exception) as bad:
        run(bu, write_inventory(tmp_path / "wave.csv", 4), info_file(box, tmp_path))
    assert "subscription_id" in str(bad.value) and "33333333-0000-0000-0000-000000000000" in str(bad.value)
    report = box.world.call_report()
    assert report["writes"] == 0 and report["reads"] == 0
