"""Migration waves end to end: real Prefect runs over the sandbox."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest

from flows.wave import WaveRun, migration_wave
from plmigrate.errors import InputError
from plmigrate.sandbox.serve import AdminClient
from tests.pipeline.conftest import ROOT, all_approvable, default_scenario, info_file
from tests.pipeline.test_landing_zone import _wait_for_paused

COLUMNS = [
    "server", "source_type", "appliance", "replication_account", "cache_account",
    "target_resource_group", "target_vnet", "target_subnet", "business_unit", "wave", "tags",
]  # fmt: skip

# (source type, replication account, pinned cache account) -> expected cache account
MIX = [
    ("vmware", "stfinrepl01", "", "stfinrepl01"),
    ("physical", "stfinrepl01", "", "stfinrepl01"),
    ("aws", "stfinrepl01", "", "stfinrepl01"),
    ("gcp", "stfinrepl01", "", "stfinrepl01"),
    ("hyperv", "stfinrepl01", "", None),
    ("hyperv", "stfinpremrepl01", "stfincache01", "stfincache01"),
    ("vmware", "stfinpremrepl01", "", "stfincache01"),
    ("hyperv", "stfinpremrepl01", "", "stfincache01"),
]


def write_inventory(path: Path, count: int, wave: str = "wave-01", appliance_of=lambda i: "appliance-fin-01") -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(count):
            source, replication, cache, _ = MIX[i % len(MIX)]
            writer.writerow(
                [f"srv-{i:05d}", source, appliance_of(i), replication, cache, "rg-finance-servers",
                 "vnet-hub-eastus", "snet-fin-app", "finance", wave, f"app=app{i % 7}"]
            )  # fmt: skip
    return path


def run(bu: Path, inventory: Path, target: str, wave: str = "wave-01", **kwargs):
    return migration_wave(
        WaveRun(business_unit_file=str(bu), inventory_file=str(inventory), wave=wave, target=target, **kwargs)
    )


def test_a_mixed_wave_of_200_reaches_the_right_states_and_a_rerun_writes_nothing(
    world, business_unit, tmp_path
) -> None:
    box = world(all_approvable(default_scenario()))
    target = info_file(box, tmp_path)
    bu = business_unit(limits={"servers_per_task": 25})
    inventory = write_inventory(tmp_path / "wave.csv", 200)
    report = run(bu, inventory, target)
    assert report.counts == {"ready": 200, "blocked": 0}
    by_name = {s.server: s for s in report.servers}
    for i in range(200):
        assert by_name[f"srv-{i:05d}"].cache_account == MIX[i % len(MIX)][3], i
    assert {a.name for a in report.accounts} == {"stfinrepl01", "stfinpremrepl01", "stfincache01"}
    writes = box.world.call_report()["writes"]
    again = run(bu, inventory, target)
    assert again.counts == {"ready": 200, "blocked": 0}
    assert box.world.call_report()["writes"] == writes, "a re-run of the wave wrote to ARM"
    assert again.writes == 0


def test_a_broken_appliance_blocks_its_servers_only(world, business_unit, tmp_path) -> None:
    box = world(all_approvable(default_scenario()))
    bu = business_unit(
        appliances=[
            {"name": "appliance-fin-01", "nameservers": [f"{box.info.dns_host}:{box.info.dns_port}"]},
            # Nothing answers DNS on port 9: every check from this appliance times out.
            {"name": "appliance-fin-02", "nameservers": ["127.0.0.1:9"]},
        ]
    )
    inventory = write_inventory(tmp_path / "wave.csv", 40, appliance_of=lambda i: f"appliance-fin-0{1 + i % 2}")
    report = run(bu, inventory, info_file(box, tmp_path))
    assert report.counts == {"ready": 20, "blocked": 20}
    for state in report.servers:
        if state.appliance == "appliance-fin-02":
            assert state.state == "blocked"
            assert "DNS from appliance appliance-fin-02" in state.reason and "conditional forwarder" in state.fix
        else:
            assert state.state == "ready"


def test_an_invalid_inventory_lists_every_problem_and_writes_nothing(world, business_unit, tmp_path) -> None:
    box = world(all_approvable(default_scenario()))
    inventory = write_inventory(tmp_path / "wave.csv", 5)
    rows = inventory.read_text().splitlines()
    rows[3] = rows[3].replace("aws", "solaris")
    rows[4] = rows[4].replace("stfinrepl01", "stunknown01", 1)
    rows.append(rows[1])  # a duplicate server
    inventory.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError) as bad:
        run(business_unit(), inventory, info_file(box, tmp_path))
    text = str(bad.value)
    assert "row 4, column source_type" in text
    assert "row 5, column replication_account" in text
    assert "row 7" in text and "srv-00000" in text
    assert box.world.call_report()["writes"] == 0


def test_a_wrong_file_in_the_form_names_it_and_the_fix_under_a_stable_key(world, business_unit, tmp_path) -> None:
    from tests.pipeline.test_cli_prepare import _latest_artifact

    box = world(all_approvable(default_scenario()))
    business_unit()  # bu.yaml is there; the form names a misspelt file next to it
    typo = tmp_path / "bu-finanse.yaml"
    with pytest.raises(InputError):
        run(typo, ROOT / "deployments" / "waves" / "finance.csv", info_file(box, tmp_path))
    # Not keyed by the bad name: the business unit is not known yet, so the flow's own key.
    failure = _latest_artifact("wave-failed")
    assert f"`{typo}`: cannot read it" in failure
    assert f"**Business Unit File** is `{typo}`: there is no such file" in failure
    assert "`bu.yaml`" in failure and "Correct Business Unit File in the run's form" in failure
    assert "Inventory File" not in failure  # that one is there
    assert box.world.call_report()["writes"] == 0

    # Once the business unit is read, the key is per business unit; a missing inventory is named.
    missing = tmp_path / "waves" / "nope.csv"
    with pytest.raises(InputError):
        run(business_unit(), missing, info_file(box, tmp_path))
    failure = _latest_artifact("wave-failed-finance")
    assert f"**Inventory File** is `{missing}`" in failure and f"In `{tmp_path}/`" in failure


def test_a_pending_approval_pauses_the_wave_and_resuming_completes_it(world, business_unit, tmp_path) -> None:
    box = world(default_scenario())  # stfincache01's owner must approve
    target = info_file(box, tmp_path)
    inventory = write_inventory(tmp_path / "wave.csv", 16)
    outcome: dict = {}

    def go() -> None:
        try:
            outcome["report"] = run(business_unit(), inventory, target)
        except Exception as exc:
            outcome["error"] = exc

    runner = threading.Thread(target=go)
    runner.start()
    run_id = _wait_for_paused()
    account = next(
        r["id"] for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == "stfincache01"
    )
    AdminClient(box.info).decide(account, "Approved")
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(run_id, run_input={"approved_by": "storage team"})
    runner.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].counts == {"ready": 16, "blocked": 0}


def test_cli_wave_exit_codes_table_and_progress(world, business_unit, tmp_path, capsys) -> None:
    from plmigrate.cli import main

    box = world(all_approvable(default_scenario()))
    info = tmp_path / "info.json"
    box.info.write(info)
    bu = business_unit(
        appliances=[
            {"name": "appliance-fin-01", "nameservers": []},
            {"name": "appliance-fin-02", "nameservers": ["127.0.0.1:9"]},
        ]
    )
    inventory = write_inventory(tmp_path / "wave.csv", 10)
    assert main(["wave", str(bu), "wave-01", "--inventory", str(inventory), "--sandbox", str(info)]) == 0
    out, err = capsys.readouterr()
    assert "srv-00009" in out and "10/10 servers recorded" in err
    blocked = write_inventory(tmp_path / "blocked.csv", 4, appliance_of=lambda i: "appliance-fin-02")
    assert main(["wave", str(bu), "wave-01", "--inventory", str(blocked), "--sandbox", str(info)]) == 1
    assert "0 ready, 4 blocked" in capsys.readouterr().err
    assert main(["wave", str(bu), "wave-09", "--inventory", str(blocked), "--sandbox", str(info)]) == 2
    assert "wave-01" in capsys.readouterr().err


def test_against_azure_an_appliance_without_nameservers_is_refused_before_any_call(business_unit, capsys) -> None:
    from plmigrate.cli import main

    # deployments/finance.yaml leaves nameservers to the sandbox; Azure has no such stand-in.
    inventory = str(ROOT / "deployments" / "waves" / "finance.csv")
    code = main(["wave", str(business_unit()), "wave-01", "--inventory", inventory, "--azure"])
    assert code == 2
    assert "appliances[].nameservers" in capsys.readouterr().err
