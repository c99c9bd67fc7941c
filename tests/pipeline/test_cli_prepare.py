"""`plmigrate prepare`: exit codes, dry run, JSON, on the sandbox with real Prefect runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plmigrate.cli import main
from tests.pipeline.conftest import all_approvable, default_scenario


def _info(box, tmp_path: Path) -> str:
    path = tmp_path / "info.json"
    box.info.write(path)
    return str(path)


def test_dry_run_reports_what_it_would_do_and_writes_nothing(world, business_unit, tmp_path, capsys) -> None:
    box = world(all_approvable(default_scenario()))
    code = main(["prepare", str(business_unit()), "--sandbox", _info(box, tmp_path), "--dry-run", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True
    assert report["vault"]["written"] is True and report["vault"]["principal_id"] == "(new identity)"
    assert {a["name"] for a in report["accounts"]} == {"stfinrepl01", "stfinpremrepl01", "stfincache01"}
    assert all(a["endpoint"]["written"] for a in report["accounts"])
    assert box.world.call_report()["writes"] == 0


def test_prepare_then_dry_run_finds_nothing_to_do(world, business_unit, tmp_path, capsys) -> None:
    box = world(all_approvable(default_scenario()))
    info = _info(box, tmp_path)
    assert main(["prepare", str(business_unit()), "--sandbox", info]) == 0
    assert "# Private Link landing zone: finance" in capsys.readouterr().out
    assert main(["prepare", str(business_unit()), "--sandbox", info, "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["vault"]["written"] is False
    assert not any(a["endpoint"]["written"] or a["trusted_services_changed"] for a in report["accounts"])
    assert not any(g["created"] for a in report["accounts"] for g in a["roles"])


def test_invalid_input_exits_2_with_the_field_named(world, business_unit, tmp_path, capsys) -> None:
    box = world(all_approvable(default_scenario()))
    code = main(["prepare", str(business_unit(vault_name="-bad")), "--sandbox", _info(box, tmp_path)])
    assert code == 2
    assert "vault_name" in capsys.readouterr().err
    assert box.world.call_report()["writes"] == 0


def test_missing_sandbox_info_exits_2(business_unit, tmp_path, capsys) -> None:
    assert main(["prepare", str(business_unit()), "--sandbox", str(tmp_path / "nope.json")]) == 2
    assert "plmigrate sandbox serve" in capsys.readouterr().err


@pytest.mark.parametrize(
    "fault",
    [
        {
            "method": "PUT",
            "resource_type": "Microsoft.RecoveryServices/vaults",
            "status": 403,
            "code": "AuthorizationFailed",
            "message": "The client does not have authorization.",
        }
    ],
)
def test_a_failed_step_exits_1_with_the_arm_code(world, business_unit, tmp_path, capsys, fault) -> None:
    data = all_approvable(default_scenario())
    data["faults"] = [fault]
    box = world(data)
    assert main(["prepare", str(business_unit()), "--sandbox", _info(box, tmp_path)]) == 1
    assert "AuthorizationFailed" in capsys.readouterr().err
    # The run's last artifact in the UI says the same.
    assert "AuthorizationFailed" in _latest_artifact("landing-zone-failed-finance")


def _latest_artifact(key: str) -> str:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> str:
        async with get_client() as client:
            found = await client.read_latest_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return str(found[0].data) if found else ""

    return asyncio.run(read())


def test_a_dry_run_wave_says_what_each_server_would_still_need_never_ready(
    world, business_unit, tmp_path, capsys
) -> None:
    box = world(default_scenario())  # before the first wave: nothing of the landing zone exists
    inventory = Path(__file__).resolve().parents[2] / "deployments" / "waves" / "finance.csv"
    where = ["--inventory", str(inventory), "--sandbox", _info(box, tmp_path)]
    code = main(["wave", str(business_unit()), "wave-01", *where, "--dry-run", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["servers"] and all(s["state"] == "pending" for s in report["servers"])
    hyperv = next(s for s in report["servers"] if s["cache_account"] == "stfincache01")
    assert "create vault rsv-finance-eastus, the vault's private endpoint" in hyperv["reason"]
    assert "blob endpoint of stfincache01" in hyperv["reason"]
    assert "await approval of" in hyperv["reason"] and "not checkable in a dry run" in hyperv["reason"]
    n = len(report["servers"])
    assert f"0 ready, {n} pending (dry run" in captured.err and "0 blocked" in captured.err
    assert box.world.call_report()["writes"] == 0
