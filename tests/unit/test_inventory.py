"""Wave inventories: the examples load, and every bad row is reported at once with its row, column and fix."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

from plmigrate.errors import InputError
from plmigrate.inventory import (
    COLUMNS,
    Inventory,
    Server,
    load_inventory,
    servers_by_wave,
    storage_accounts_needed,
)
from plmigrate.model import BusinessUnit, load_business_unit

ROOT = Path(__file__).resolve().parents[2]
BU_FILE = ROOT / "deployments" / "finance.yaml"
WAVES = ROOT / "deployments" / "waves"

HEADER = ",".join(COLUMNS)
GOOD = {
    "server": "fin-web-01",
    "source_type": "vmware",
    "appliance": "appliance-fin-01",
    "replication_account": "stfinrepl01",
    "cache_account": "",
    "target_resource_group": "rg-finance-servers",
    "target_vnet": "vnet-hub-eastus",
    "target_subnet": "snet-fin-web",
    "business_unit": "finance",
    "wave": "wave-01",
    "tags": "app=ledger;tier=web",
}


@pytest.fixture(scope="module")
def bu() -> BusinessUnit:
    return load_business_unit(BU_FILE)


def csv_row(**changes: str) -> str:
    return ",".join({**GOOD, **changes}.get(c, "") for c in COLUMNS)


def write(tmp_path: Path, text: str, name: str = "inv.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, bu: BusinessUnit, wave: str | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_inventory(path, bu, wave)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "Traceback" not in message and "pydantic" not in message
    assert all(" — " in p for p in caught.value.problems), caught.value.problems  # every problem has a fix
    return caught.value.problems


# -- the examples ------------------------------------------------------------------------------------------------------


def test_the_finance_csv_example_is_the_wave_the_issue_describes(bu: BusinessUnit) -> None:
    servers = load_inventory(WAVES / "finance.csv", bu)
    waves = servers_by_wave(servers)
    assert list(waves) == ["wave-01", "wave-02"]
    wave1 = waves["wave-01"]
    assert len(wave1) == 36
    assert {s.source_type for s in wave1} == {"vmware", "hyperv", "physical", "aws", "gcp"}
    premium = [s for s in wave1 if s.replication_account == "stfinpremrepl01"]
    assert [(s.source_type, s.cache_account) for s in premium] == [("hyperv", "stfincache01")]
    assert {s.replication_account for s in wave1 if s not in premium} == {"stfinrepl01"}
    assert sum(s.source_type == "hyperv" for s in wave1) > 1
    assert {(s.target_resource_group, s.target_vnet) for s in servers} == {("rg-finance-servers", "vnet-hub-eastus")}
    assert storage_accounts_needed(wave1) == ["stfincache01", "stfinpremrepl01", "stfinrepl01"]
    assert storage_accounts_needed(waves["wave-02"]) == ["stfinrepl01"]
    assert wave1[0].tags == {"app": "ledger", "tier": "web"}


def test_the_yaml_example_loads_in_the_same_shape(bu: BusinessUnit) -> None:
    servers = load_inventory(WAVES / "finance.yaml", bu)
    assert [s.wave for s in servers].count("wave-01") == 4
    erp = next(s for s in servers if s.name == "fin-hv-erp-01")
    assert (erp.source_type, erp.replication_account, erp.cache_account) == (
        "hyperv",
        "stfinpremrepl01",
        "stfincache01",
    )
    assert erp.tags == {"app": "erp", "tier": "db", "disk": "premium"}
    csv_servers = {s.name: s for s in load_inventory(WAVES / "finance.csv", bu)}
    for server in servers:  # the YAML example is a subset of the CSV one
        assert csv_servers[server.name] == server


def test_wave_filtering_and_an_unknown_wave(bu: BusinessUnit) -> None:
    assert {s.wave for s in load_inventory(WAVES / "finance.csv", bu, "wave-02")} == {"wave-02"}
    assert len(load_inventory(WAVES / "finance.csv", bu, " WAVE-02 ")) == 8  # wave names are case-insensitive
    problems = problems_of(WAVES / "finance.csv", bu, "wave-03")
    assert problems == ["wave 'wave-03': not in the inventory — use one of the waves in it: wave-01, wave-02"]


def test_the_whole_file_is_validated_even_when_one_wave_is_asked_for(bu: BusinessUnit, tmp_path: Path) -> None:
    text = "\n".join([HEADER, csv_row(), csv_row(server="fin-x", wave="wave-02", source_type="floppy")])
    assert problems_of(write(tmp_path, text), bu, "wave-01")[0].startswith("row 3, column source_type:")


# -- tolerance ---------------------------------------------------------------------------------------------------------


def test_bom_header_variants_whitespace_and_spellings_are_tolerated(bu: BusinessUnit, tmp_path: Path) -> None:
    header = (
        "\ufeffServer , Source Type,APPLIANCE,replication-account,Cache Account,target resource group,"
        "Target-VNet,target__subnet,Business Unit,WAVE,Tags,"  # a trailing empty column, as Excel writes
    )
    row = (
        " WEB01 , Hyper-V ,APPLIANCE-FIN-01, StFinRepl01 ,,rg-finance-servers,vnet-hub-eastus,snet-a,"
        " Finance , Wave-01 , a = 1 ; b=2; ,"
    )
    path = tmp_path / "inv.csv"
    path.write_bytes(("\r\n".join([header, row, ",,,,,,,,,,,", ""])).encode("utf-8"))  # BOM, CRLF, an empty row
    [server] = load_inventory(path, bu)
    assert server.name == "WEB01"
    assert server.source_type == "hyperv"
    assert server.appliance == "appliance-fin-01"  # the declared spelling
    assert server.replication_account == "stfinrepl01"
    assert server.cache_account is None
    assert (server.business_unit, server.wave) == ("finance", "wave-01")
    assert server.tags == {"a": "1", "b": "2"}


def test_semicolon_separated_csv_from_a_european_spreadsheet(bu: BusinessUnit, tmp_path: Path) -> None:
    values = {**GOOD, "tags": '"app=ledger;tier=web"'}
    text = ";".join(COLUMNS) + "\n" + ";".join(values.get(c, "") for c in COLUMNS) + "\n"
    [server] = load_inventory(write(tmp_path, text), bu)
    assert server.tags == {"app": "ledger", "tier": "web"}


def test_optional_columns_may_be_left_out(bu: BusinessUnit, tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c not in ("cache_account", "tags")]
    text = ",".join(columns) + "\n" + ",".join(GOOD.get(c, "") for c in columns)
    [server] = load_inventory(write(tmp_path, text), bu)
    assert (server.cache_account, server.tags) == (None, {})


def test_a_server_is_frozen_hashable_picklable_and_accepts_either_name_spelling(bu: BusinessUnit) -> None:
    values = {**GOOD, "cache_account": None, "tags": {"a": "1"}}
    server = Server.model_validate(values, context={"business_unit": bu})
    assert Server(**values) == server  # without a business unit in context, only the names are checked
    by_name = Server.model_validate({k if k != "server" else "name": v for k, v in values.items()})
    assert by_name == server
    with pytest.raises(Exception, match="frozen"):
        server.wave = "wave-02"  # type: ignore[misc]
    assert {server, by_name} == {server}
    assert pickle.loads(pickle.dumps(server)) == server
    assert all(field.description for field in Server.model_fields.values())


def test_inventory_rejects_duplicates_built_in_code(bu: BusinessUnit) -> None:
    server = Server.model_validate({**GOOD, "cache_account": None})
    other = server.model_copy(update={"name": "FIN-WEB-01"})
    with pytest.raises(ValueError, match="duplicate server 'FIN-WEB-01'"):
        Inventory(servers=[server, other])
    inventory = Inventory.load(WAVES / "finance.csv", bu)
    assert inventory.waves() == ["wave-01", "wave-02"]
    assert len(inventory.wave("wave-01")) == 36


# -- each kind of problem, with its row and column ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"server": "../x"}, "row 2, column server: '../x' looks like a path, not a server name"),
        ({"server": "a/b"}, "row 2, column server: 'a/b' looks like a path"),
        ({"server": "a\\b"}, "row 2, column server: 'a\\\\b' looks like a path"),
        ({"server": "x" * 65}, "row 2, column server: 'xxxxx"),
        ({"server": "-web"}, "row 2, column server: '-web' is not a valid Azure VM name"),
        ({"server": "web."}, "row 2, column server: 'web.' is not a valid Azure VM name"),
        ({"server": "web 01"}, "row 2, column server: 'web 01' is not a valid Azure VM name"),
        ({"source_type": "floppy"}, "row 2, column source_type: Input should be 'vmware', 'hyperv', 'physical',"),
        ({"appliance": "appliance-x"}, "row 2, column appliance: appliance 'appliance-x' is not declared in business"),
        ({"replication_account": "stnope01"}, "row 2, column replication_account: storage account 'stnope01' is not"),
        (
            {"replication_account": "stfincache01"},
            "declared with role cache, not replication — use one of: stfinrepl01",
        ),
        ({"replication_account": "st-x"}, "row 2, column replication_account: 'st-x' is not a valid storage account"),
        ({"cache_account": "stnope01"}, "row 2, column cache_account: storage account 'stnope01' is not declared"),
        ({"target_resource_group": "rg/../x"}, "row 2, column target_resource_group: 'rg/../x' looks like a path"),
        ({"target_resource_group": "rg."}, "row 2, column target_resource_group: 'rg.' ends with '.'"),
        ({"target_vnet": "v"}, "row 2, column target_vnet: 'v' is not a valid virtual network name"),
        ({"target_subnet": "snet-"}, "row 2, column target_subnet: 'snet-' is not a valid subnet name"),
        ({"business_unit": "hr"}, "row 2, column business_unit: the row belongs to business unit 'hr', but"),
        ({"wave": "wave 1"}, "row 2, column wave: 'wave 1' is not a valid name"),
        ({"tags": "owner"}, "row 2, column tags: 'owner' is not a tag — write tags as key=value pairs"),
        ({"tags": "a=1;a=2"}, "row 2, column tags: tag 'a' is given twice"),
        ({"tags": "a/b=1"}, "row 2, column tags: tag name 'a/b' is invalid"),
        ({"tags": ";".join(f"k{i}=v" for i in range(51))}, "row 2, column tags: 51 tags — Azure allows at most 50"),
        ({"appliance": ""}, "row 2, column appliance: no value — fill it in"),
    ],
)
def test_each_kind_of_problem_names_its_row_and_column(
    bu: BusinessUnit, tmp_path: Path, changes: dict[str, str], expected: str
) -> None:
    problems = problems_of(write(tmp_path, f"{HEADER}\n{csv_row(**changes)}\n"), bu)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected) or expected in problems[0], problems


def test_duplicates_name_both_rows_case_insensitively(bu: BusinessUnit, tmp_path: Path) -> None:
    text = "\n".join([HEADER, csv_row(), csv_row(server="fin-app-01"), "", csv_row(server="FIN-web-01")])
    assert problems_of(write(tmp_path, text), bu) == [
        "row 5, column server: duplicate server 'FIN-web-01' (also in row 2; names are case-insensitive) "
        "— give each server one row"
    ]


def test_header_problems_are_reported_once_not_per_row(bu: BusinessUnit, tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c != "appliance"] + ["colour", "Wave"]
    cells = [{**GOOD, "server": f"s{i}", "colour": "red", "Wave": "x"} for i in range(5)]
    rows = [",".join(row.get(c, "") for c in columns) for row in cells]
    problems = problems_of(write(tmp_path, "\n".join([",".join(columns), *rows])), bu)
    assert problems == [  # colour is someone else's column: ignored (see the notes test)
        f"row 1, column wave: appears twice in the header (columns 9 and {len(columns)}) — keep one",
        "row 1, column appliance: required column is missing — add it to the header",
    ]


def test_a_near_miss_column_gets_a_suggestion(bu: BusinessUnit, tmp_path: Path) -> None:
    text = HEADER.replace("target_subnet", "target_subnt") + "\n" + csv_row()
    [problem, missing] = problems_of(write(tmp_path, text), bu)
    assert problem.startswith("row 1, column target_subnt: unknown column — did you mean target_subnet? rename it")
    assert missing == "row 1, column target_subnet: required column is missing — add it to the header"


def test_a_value_without_a_column_header(bu: BusinessUnit, tmp_path: Path) -> None:
    text = f"{HEADER}\n{csv_row()},oops\n"
    assert problems_of(write(tmp_path, text), bu) == [
        f"row 2, column {len(COLUMNS) + 1}: value 'oops' has no column header — name the column, delete the value, "
        "or quote a value that contains the delimiter"
    ]


def test_all_problems_are_reported_at_once_in_row_order(bu: BusinessUnit, tmp_path: Path) -> None:
    text = "\n".join(
        [
            HEADER + ",colour",
            csv_row(source_type="floppy") + ",red",
            csv_row(server="../x", appliance="nope", target_vnet="v") + ",",
            csv_row(server="ok-2") + ",",
            csv_row(server="FIN-WEB-01", business_unit="hr", tags="x") + ",",
        ]
    )
    problems = problems_of(write(tmp_path, text), bu)
    assert [p.split(":")[0] for p in problems] == [
        "row 2, column source_type",
        "row 3, column server",
        "row 3, column appliance",
        "row 3, column target_vnet",
        "row 5, column business_unit",
        "row 5, column tags",
        "row 5, column server",
    ]
    with pytest.raises(InputError) as caught:
        load_inventory(tmp_path / "inv.csv", bu)
    assert str(caught.value).splitlines()[0] == f"{tmp_path / 'inv.csv'}: 7 problems:"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("inv.csv", "", "<file>: the file is empty"),
        ("inv.csv", "\n , \n", "<file>: the file is empty"),
        ("inv.csv", HEADER + "\n", "<file>: no servers — add one row per server"),
        ("inv.txt", HEADER, "<file>: unknown inventory format '.txt' — use a .csv, .yaml or .yml file"),
        ("inv.yaml", "", "<file>: the file is empty"),
        ("inv.yaml", "- server: a\n", "<top level>: expected a mapping with a servers: list"),
        ("inv.yaml", "servers: [unclosed\n", "line 2, column 1: invalid YAML"),
        ("inv.yaml", "servers: web01\n", "servers: expected a list of entries, got a string"),
        ("inv.yaml", "servers: []\n", "<file>: no servers — add one row per server"),
    ],
)
def test_unreadable_or_empty_files(bu: BusinessUnit, tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert problems_of(write(tmp_path, content, name), bu)[0].startswith(expected)


def test_not_utf8_and_missing_files(bu: BusinessUnit, tmp_path: Path) -> None:
    path = tmp_path / "inv.csv"
    path.write_bytes((HEADER + "\n" + csv_row(server="caf\u00e9")).encode("cp1252"))
    assert problems_of(path, bu)[0].startswith("line 2, column 4: not UTF-8 text (byte 0x")
    assert problems_of(tmp_path / "nope.csv", bu) == [
        "<file>: cannot read it (No such file or directory) — check the path"
    ]


# -- YAML --------------------------------------------------------------------------------------------------------------


def yaml_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {**GOOD, "tags": {"app": "ledger"}, **changes}
    entry.pop("cache_account")
    return {k: v for k, v in entry.items() if v is not ...}


def test_yaml_rows_are_entries_counted_from_one_and_the_headline_says_so(bu: BusinessUnit, tmp_path: Path) -> None:
    data = {
        "servers": [
            yaml_entry(),
            yaml_entry(server=12345, tags={"tier": 1}),
            "web03",
            yaml_entry(server="web04", Colour="red", source_type=..., **{"Source-Type": "AWS", "WAVE": "x"}),
            yaml_entry(server="FIN-WEB-01", wave=None),
        ],
        "defaults": {},
    }
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False), "inv.yaml")
    with pytest.raises(InputError) as caught:
        load_inventory(path, bu)
    assert caught.value.source == f"{path} (row N = the Nth entry under servers:)"
    assert caught.value.problems == [
        "'defaults': unknown top-level key — remove it (only servers: is allowed)",
        "row 2, column server: Input should be a valid string (got 12345) — give it as text (quote it in YAML)",
        "row 2, column tags.tier: Input should be a valid string (got 1) — give it as text (quote it in YAML)",
        "row 3: expected a mapping of columns (server: ..., source_type: ...), got a string — write the entry as "
        "key: value lines",
        "row 4, column wave: given twice (as 'WAVE' too) — keep one",
        "row 5, column wave: no value — fill it in",
        "row 5, column server: duplicate server 'FIN-WEB-01' (also in row 1; names are case-insensitive) — give "
        "each server one row",
    ]


def test_yaml_column_missing_from_every_entry_is_one_problem(bu: BusinessUnit, tmp_path: Path) -> None:
    data = {"servers": [yaml_entry(server=f"s{i}", target_vnet=...) for i in range(4)]}
    path = write(tmp_path, yaml.safe_dump(data), "inv.yml")
    assert problems_of(path, bu) == [
        "column target_vnet: required column is missing from every entry — add target_vnet: to each entry"
    ]


def test_extra_spreadsheet_columns_are_ignored_with_a_note(bu: BusinessUnit, tmp_path: Path) -> None:
    text = "\n".join([HEADER + ",Owner,notes", csv_row() + ",Ada,move first", csv_row(server="fin-app-01") + ",,"])
    notes: list[str] = []
    servers = load_inventory(write(tmp_path, text), bu, notes=notes)
    assert [s.name for s in servers] == ["fin-web-01", "fin-app-01"]
    assert notes == [
        f"{tmp_path / 'inv.csv'}: columns owner, notes ignored (not read by plmigrate, which reads: "
        + ", ".join(COLUMNS)
        + ")"
    ]


def test_the_same_mistake_on_many_rows_is_said_once(bu: BusinessUnit, tmp_path: Path) -> None:
    rows = [csv_row(server=f"s{i}", source_type="vmwar") for i in range(50_000)]
    with pytest.raises(InputError) as caught:
        load_inventory(write(tmp_path, "\n".join([HEADER, *rows])), bu)
    assert caught.value.problems == [
        "rows 2, 3, 4, 5, 6 and 49,995 more (50,000 rows), column source_type: Input should be 'vmware', 'hyperv', "
        "'physical', 'aws' or 'gcp' (got 'vmwar') — use one of those values"
    ]
    assert len(str(caught.value).splitlines()) == 2


def test_many_different_problems_are_capped_when_shown(bu: BusinessUnit, tmp_path: Path) -> None:
    rows = [csv_row(server=f"-bad{i}") for i in range(500)]
    with pytest.raises(InputError) as caught:
        load_inventory(write(tmp_path, "\n".join([HEADER, *rows])), bu)
    assert len(caught.value.problems) == 500  # all kept for whoever reads them programmatically
    shown = str(caught.value).splitlines()
    assert shown[0].endswith(": 500 problems:") and len(shown) == 1 + 50 + 1
    assert shown[-1] == "  - … and 450 more problems: fix these and run again to see the rest"
