"""The business-unit file: the example loads, and bad input is one InputError naming each field and its fix."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

from plmigrate.errors import InputError, StepFailed
from plmigrate.model import Appliance, BusinessUnit, StorageAccountRef, SubnetRef, load_business_unit

ROOT = Path(__file__).resolve().parents[2]
FINANCE = ROOT / "deployments" / "finance.yaml"
SUB = "00000000-0000-0000-0000-00000000a11e"

VALID: dict[str, Any] = {
    "name": "finance",
    "subscription_id": SUB,
    "tenant_id": "11111111-0000-0000-0000-00000000a11e",
    "region": "eastus",
    "resource_group": "rg-migrate-finance",
    "vault_name": "rsv-finance-eastus",
    "private_endpoint_subnet": {"resource_group": "rg-network-hub", "vnet": "vnet-hub-eastus", "subnet": "snet-pe"},
    "dns_zone_resource_group": "rg-network-hub",
    "appliances": [{"name": "appliance-fin-01", "nameservers": ["10.0.0.4", "10.0.0.5:5353"]}],
    "storage_accounts": [{"name": "stfinrepl01", "resource_group": "rg-storage-finance", "role": "replication"}],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """VALID with one dotted path (list indices as numbers) set to value, or removed when value is ...."""
    data = copy.deepcopy(VALID)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = data
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(InputError) as caught:
        BusinessUnit.parse(data, "bu.yaml")
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_the_finance_example_matches_the_sandbox_default_scenario() -> None:
    scenario = yaml.safe_load((ROOT / "plmigrate/sandbox/scenarios/default.yaml").read_text())
    bu = load_business_unit(FINANCE)
    assert bu.subscription_id == scenario["subscription_id"]
    assert bu.tenant_id == scenario["tenant_id"]
    assert bu.region == "eastus"
    assert {rg["name"] for rg in scenario["resource_groups"]} >= {
        bu.resource_group,
        bu.dns_zone_resource_group,
        bu.private_endpoint_subnet.resource_group,
        *(a.resource_group for a in bu.storage_accounts),
    }
    vnet = scenario["virtual_networks"][0]
    assert (bu.private_endpoint_subnet.vnet, bu.private_endpoint_subnet.subnet) == (
        vnet["name"],
        "snet-private-endpoints",
    )
    assert bu.zone_link_vnet_ids == [scenario["dns_forwarders"][0]["vnet_id"]]
    roles = {a.name: a.role for a in bu.storage_accounts}
    assert roles == {"stfinrepl01": "replication", "stfinpremrepl01": "replication", "stfincache01": "cache"}
    assert {a.name for a in bu.storage_accounts} == {a["name"] for a in scenario["storage_accounts"]}
    assert [a.name for a in bu.appliances] == ["appliance-fin-01"]
    assert bu.appliances[0].nameservers == []
    assert bu.tags["managed-by"] == "plmigrate"


def test_defaults_ids_and_normalisation() -> None:
    bu = BusinessUnit.parse(with_change("region", "East US 2"))
    assert bu.region == "eastus2"
    assert bu.approval.mode == "wait_for_owner" and bu.approval.timeout_seconds == 3600
    assert bu.approval.poll_seconds == 10 and bu.approval.pause_in_ui is True
    assert (bu.timeouts.dns_seconds, bu.timeouts.dns_retry_seconds) == (600, 10)
    assert (bu.timeouts.role_seconds, bu.timeouts.role_retry_seconds) == (300, 5)
    assert bu.limits.arm_concurrency == 8
    assert bu.tags == {"managed-by": "plmigrate"}
    hub = f"/subscriptions/{SUB}/resourceGroups/rg-network-hub/providers/Microsoft.Network/virtualNetworks/"
    hub += "vnet-hub-eastus"
    # With no links given, the zones are linked to the endpoint subnet's VNet.
    assert bu.zone_link_vnet_ids == [hub]
    assert bu.private_endpoint_subnet_id == hub + "/subnets/snet-pe"
    assert bu.vault_id == (
        f"/subscriptions/{SUB}/resourceGroups/rg-migrate-finance/providers/Microsoft.RecoveryServices/vaults/"
        "rsv-finance-eastus"
    )
    assert bu.storage_account_id("stfinrepl01") == (
        f"/subscriptions/{SUB}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/stfinrepl01"
    )
    assert bu.appliance("APPLIANCE-FIN-01").endpoints() == [("10.0.0.4", 53), ("10.0.0.5", 5353)]
    with pytest.raises(KeyError):
        bu.storage_account("nope")


def test_guids_are_lower_cased_and_tags_merge_over_the_default() -> None:
    data = with_change("subscription_id", SUB.upper())
    data["tags"] = {"cost-center": "42", "managed-by": "team-x"}
    bu = BusinessUnit.parse(data)
    assert bu.subscription_id == SUB
    assert bu.tags == {"managed-by": "team-x", "cost-center": "42"}


def test_refs_in_another_subscription() -> None:
    hub_sub = "33333333-0000-0000-0000-000000000001"
    ref = SubnetRef(resource_group="rg-hub", vnet="vnet-hub", subnet="snet-pe", subscription_id=hub_sub)
    assert ref.subnet_id(SUB) == (
        f"/subscriptions/{hub_sub}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub"
        "/subnets/snet-pe"
    )
    assert ref.vnet_ref().vnet_id(SUB).startswith(f"/subscriptions/{hub_sub}/")
    account = StorageAccountRef(name="stx001", resource_group="rg-st", role="cache")
    assert account.id(SUB).endswith("/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/stx001")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("name", "fin ance", "name: 'fin ance' is not a valid name"),
        ("subscription_id", "not-a-guid", "subscription_id: 'not-a-guid' is not a GUID — use the form"),
        ("tenant_id", ..., "tenant_id: required field is missing — add it"),
        ("region", "eastus3", "region: unknown region 'eastus3' — use an ARM region name (did you mean eastus"),
        ("resource_group", "../etc", "resource_group: '../etc' looks like a path"),
        ("resource_group", "rg/other", "resource_group: 'rg/other' looks like a path"),
        ("resource_group", "rg\\x", "looks like a path"),
        ("resource_group", "rg.", "resource_group: 'rg.' ends with '.'"),
        ("resource_group", "r" * 91, "resource_group: 'rrrr"),
        ("resource_group", "rg name", "is not a valid resource group name — use 1-90 letters"),
        ("dns_zone_resource_group", "", "dns_zone_resource_group: '' is not a valid resource group name"),
        ("vault_name", "1vault", "vault_name: '1vault' is not a valid Recovery Services vault name"),
        ("vault_name", "v" * 51, "is not a valid Recovery Services vault name — use 2-50"),
        ("vault_name", "rsv_x", "is not a valid Recovery Services vault name"),
        ("private_endpoint_subnet.vnet", "-vnet", "private_endpoint_subnet.vnet: '-vnet' is not a valid virtual net"),
        ("private_endpoint_subnet.subnet", "snet.", "private_endpoint_subnet.subnet: 'snet.' is not a valid subnet"),
        ("private_endpoint_subnet.vnet", ..., "private_endpoint_subnet.vnet: required field is missing"),
        ("private_endpoint_subnet.colour", "blue", "private_endpoint_subnet.colour: unknown field — remove it"),
        ("appliances", [], "appliances: List should have at least 1 item"),
        ("appliances.0.nameservers.0", "dns.corp", "appliances[appliance-fin-01].nameservers[entry 1]: 'dns.corp'"),
        ("appliances.0.nameservers.1", "10.0.0.5:0", "appliances[appliance-fin-01].nameservers[entry 2]: '10.0.0.5:0'"),
        ("appliances.0.nameservers.1", "10.0.0.4:53", "appliances[appliance-fin-01].nameservers: duplicate nameserver"),
        ("storage_accounts.0.name", "StFin", "storage_accounts[StFin].name: 'StFin' is not a valid storage"),
        ("storage_accounts.0.name", "st", "3-24 lowercase letters and digits"),
        ("storage_accounts.0.role", "primary", "storage_accounts[stfinrepl01].role: Input should be 'replication'"),
        ("storage_accounts.0.resource_group", 42, "storage_accounts[stfinrepl01].resource_group: Input should be"),
        ("approval", {"mode": "yolo"}, "approval.mode: Input should be 'wait_for_owner' or 'self_approve'"),
        ("approval", {"timeout_seconds": 5, "poll_seconds": 10}, "approval: poll_seconds (10) is longer than"),
        ("approval", {"timeout_seconds": 0}, "approval.timeout_seconds: Input should be greater than 0 (got 0)"),
        ("timeouts", {"dns_seconds": 5}, "timeouts: dns_retry_seconds is longer than dns_seconds"),
        ("limits", {"arm_concurrency": 0}, "limits.arm_concurrency: Input should be greater than or equal to 1"),
        ("limits", {"max_parallel": 3}, "limits.max_parallel: unknown field — remove it or correct its spelling"),
        ("tags", {"a/b": "x"}, "tags: tag name 'a/b' is invalid"),
        ("colour", "blue", "colour: unknown field — remove it or correct its spelling (allowed here: name, subscr"),
    ],
)
def test_each_bad_field_is_named_with_its_fix(path: str, value: Any, expected: str) -> None:
    problems = problems_of(with_change(path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected) or expected in problems[0], problems
    assert " — " in problems[0]  # every problem carries a fix
    assert "pydantic" not in problems[0] and "Traceback" not in problems[0]


def test_every_problem_is_reported_at_once_including_duplicates_beside_invalid_entries() -> None:
    data = with_change("vault_name", "9")
    data["region"] = "moon"
    data["appliances"] = [{"name": "app-1", "nameservers": ["x"]}, {"name": "APP-1"}]
    data["storage_accounts"] = [
        {"name": "Bad", "resource_group": "rg", "role": "replication"},
        {"name": "stdup", "resource_group": "rg", "role": "cache"},
        {"name": "stdup", "resource_group": "rg", "role": "cache"},
    ]
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == [
        "region",
        "vault_name",
        "appliances[app-1].nameservers[entry 1]",
        "storage_accounts[Bad].name",
        "appliances",
        "storage_accounts",
    ]
    assert "duplicate appliance name 'app-1' (entries 1 and 2) — give each appliance its own name" in problems[4]
    assert "duplicate storage account 'stdup' (entries 2 and 3)" in problems[5]


def test_duplicates_alone_are_reported_by_the_model_itself() -> None:
    data = with_change("storage_accounts", VALID["storage_accounts"] * 2)
    assert problems_of(data) == [
        "storage_accounts: duplicate storage account 'stfinrepl01' (entries 1 and 2) — list each storage account once"
    ]
    data = copy.deepcopy(VALID)
    data["dns_zone_links"] = [{"resource_group": "RG-HUB", "vnet": "v1"}, {"resource_group": "rg-hub", "vnet": "V1"}]
    assert problems_of(data) == ["dns_zone_links: duplicate VNet 'rg-hub/v1' (entries 1 and 2) — link each VNet once"]


def test_the_message_lists_the_file_and_every_problem() -> None:
    data = with_change("vault_name", "9")
    data["region"] = "moon"
    with pytest.raises(InputError) as caught:
        BusinessUnit.parse(data, "deployments/x.yaml")
    assert str(caught.value).splitlines() == [
        "deployments/x.yaml: 2 problems:",
        f"  - {caught.value.problems[0]}",
        f"  - {caught.value.problems[1]}",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "<file>: the file is empty"),
        ("- a\n- b\n", "<top level>: expected a mapping of fields"),
        ("name: [unclosed\n", "line 2, column 1: invalid YAML"),
        ("name: finance\n  bad: indent\n", "line 2, column 6: invalid YAML"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bu.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_business_unit(path)
    assert caught.value.source == str(path)
    assert caught.value.problems[0].startswith(expected), caught.value.problems


def test_a_file_that_is_not_utf8_gives_the_line_and_says_save_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bu.yaml"
    path.write_bytes(b"name: finance\nregion: eastus\ntags:\n  owner: Fran\xe7ois\n")  # Latin-1, as old editors save
    with pytest.raises(InputError) as caught:
        load_business_unit(path)
    (problem,) = caught.value.problems
    assert problem.startswith("line 4, column 14: not UTF-8 text (byte 0xe7) — save the file as UTF-8"), problem
    assert "check the path" not in problem


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "bu.yaml"
    text = FINANCE.read_text()
    path.write_text(text + "\nvault_name: rsv-other\n")
    with pytest.raises(InputError) as caught:
        load_business_unit(path)
    (problem,) = caught.value.problems
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("vault_name:"))
    assert f"key 'vault_name' is given twice in one mapping (first on line {first})" in problem, problem
    assert problem.startswith(f"line {len(text.splitlines()) + 2}, column 1:"), problem
    # Nested mappings too; the same key in two different mappings is fine.
    path.write_text(text.replace("\napproval:\n", "\napproval:\n  mode: self_approve\n", 1))
    with pytest.raises(InputError, match="key 'mode' is given twice"):
        load_business_unit(path)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        BusinessUnit.load(tmp_path / "nope.yaml")
    assert caught.value.problems == ["<file>: cannot read it (No such file or directory) — check the path"]


def test_appliance_nameservers_may_be_filled_at_run_time() -> None:
    appliance = Appliance(name="appliance-fin-01")
    filled = appliance.model_copy(update={"nameservers": ["127.0.0.1:5300"]})
    assert filled.endpoints() == [("127.0.0.1", 5300)]
    with pytest.raises(ValueError, match="is not an IPv4 address"):
        appliance.nameservers = ["::1"]


def test_every_field_has_a_description_for_the_ui_form() -> None:
    def walk(schema: dict[str, Any], where: str) -> None:
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{where}.{name} has no description"

    schema = BusinessUnit.model_json_schema()
    walk(schema, "BusinessUnit")
    for name, definition in schema["$defs"].items():
        walk(definition, name)


def test_errors_survive_pickling_as_prefect_stores_them() -> None:
    error = pickle.loads(pickle.dumps(InputError(["a: b — c"], "f.yaml")))
    assert (error.problems, error.source, error.exit_code) == (["a: b — c"], "f.yaml", 2)
    failed = pickle.loads(pickle.dumps(StepFailed("verify_dns", "x.blob.core.windows.net", "public IP", "forward")))
    assert (failed.step, failed.resource, failed.reason, failed.fix, failed.exit_code) == (
        "verify_dns",
        "x.blob.core.windows.net",
        "public IP",
        "forward",
        1,
    )
    assert str(failed) == "verify_dns failed for x.blob.core.windows.net: public IP\nFix: forward"
