"""Property-based bad input: every malformed business unit or inventory ends in one InputError naming the field.

Hypothesis breaks a known-good business unit (deployments/finance.yaml's shape) and a known-good inventory in
one way at a time — wrong types, missing and unknown keys, names ARM would reject (path-like, over-long,
bad characters), bad GUIDs and regions, duplicate rows — and checks that the result is always an
`InputError` (never another exception), that its message names the broken field (or the row and column),
and that no traceback text leaks into it. Nothing here touches Azure: validation runs before any write.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plmigrate.errors import InputError
from plmigrate.inventory import COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, load_inventory, parse_csv, parse_yaml
from plmigrate.model import BusinessUnit, load_business_unit
from plmigrate.regions import GEO_CODES, normalize_region
from plmigrate.rules import SOURCE_TYPES

# Modest example counts and no deadline: the suite runs on a shared, noisy machine and must stay fast.
PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ROOT = Path(__file__).resolve().parents[2]
GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

BU_DATA: dict[str, Any] = {
    "name": "finance",
    "subscription_id": "00000000-0000-0000-0000-00000000a11e",
    "tenant_id": "11111111-0000-0000-0000-00000000a11e",
    "region": "eastus",
    "resource_group": "rg-migrate-finance",
    "vault_name": "rsv-finance-eastus",
    "private_endpoint_subnet": {"resource_group": "rg-network-hub", "vnet": "vnet-hub-eastus", "subnet": "snet-pe"},
    "dns_zone_resource_group": "rg-network-hub",
    "dns_zone_links": [{"resource_group": "rg-network-hub", "vnet": "vnet-hub-eastus"}],
    "appliances": [{"name": "appliance-fin-01", "nameservers": ["10.0.0.4"]}],
    "storage_accounts": [
        {"name": "stfinrepl01", "resource_group": "rg-storage-finance", "role": "replication"},
        {"name": "stfinpremrepl01", "resource_group": "rg-storage-finance", "role": "replication"},
        {"name": "stfincache01", "resource_group": "rg-storage-finance", "role": "cache"},
    ],
    "approval": {"mode": "wait_for_owner", "timeout_seconds": 3600, "poll_seconds": 10, "pause_in_ui": True},
    "timeouts": {"dns_seconds": 600, "dns_retry_seconds": 10, "role_seconds": 300, "role_retry_seconds": 5},
    "limits": {"arm_concurrency": 8},
    "tags": {"cost-center": "fin-0042"},
}
BU = BusinessUnit.parse(BU_DATA)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    # Module-scoped (not tmp_path): hypothesis re-runs the test body many times within one fixture instance.
    with tempfile.TemporaryDirectory(prefix="plmigrate-props-") as directory:
        yield Path(directory)


def assert_clean_input_error(error: BaseException, fix: bool = True) -> str:
    """The error is exactly InputError, no traceback or pydantic text leaks, and (with `fix`) every problem
    carries a fix after " — "."""
    assert type(error) is InputError, f"{type(error).__name__}: {error}"
    message = str(error)
    assert error.problems
    if fix:
        assert all(" — " in p for p in error.problems), error.problems
    for leak in ("Traceback (most recent call last)", "errors.pydantic.dev", "validation error for "):
        assert leak not in message, message
    return message


def loc_text(path: tuple[str | int, ...], data: Any) -> str:
    """A path as problems spell it in `data`: a list entry by its name where it has a text one
    (storage_accounts[stfinrepl01].role), else counted from 1 (appliances[...].nameservers[entry 2])."""
    text = ""
    node = data
    for part in path:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            text += f"[{name.strip()}]" if isinstance(name, str) and name.strip() else f"[entry {part + 1}]"
            node = item
        else:
            text += f".{part}" if text else part
            node = node.get(part) if isinstance(node, dict) else None
    return text


# ---------------------------------------------------------------------------------------------------------------------
# Bad values, built to be invalid by construction (not by asking the validators under test)

PATH_LIKE = st.one_of(
    st.sampled_from(["../x", "..", "/", "\\", "a/b", "a\\b", "x/..", "../../subscriptions/other", "..\\x", "/etc"]),
    st.builds(lambda a, sep, b: a + sep + b, st.text("abc-", max_size=5), st.sampled_from(["/", "\\", ".."]),
              st.text("xyz0", max_size=5)),
)  # fmt: skip
SYMBOLS = "!@#$%^&*+=?<>|;:,'\"`~{}[]"


def over_long(limit: int) -> st.SearchStrategy[str]:
    return st.text("abcxyz0189", min_size=limit + 1, max_size=limit + 30).map(lambda t: "a" + t)


def with_symbol(base: str) -> st.SearchStrategy[str]:
    return st.builds(lambda at, ch: base[:at] + ch + base[at:], st.integers(0, len(base)), st.sampled_from(SYMBOLS))


def bad_name(limit: int, base: str) -> st.SearchStrategy[str]:
    """Names ARM rejects whatever the resource type: path-like, too long, a symbol inside, or empty."""
    return st.one_of(PATH_LIKE, over_long(limit), with_symbol(base), st.sampled_from(["", "   "]))


WRONG_TYPES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text("abc", min_size=1, max_size=3), st.integers(), max_size=2),
)
NOT_A_NUMBER = st.one_of(
    st.none(),
    st.sampled_from(["abc", "ten", "", "5 minutes", "1,5"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text("abc", min_size=1, max_size=3), st.integers(), max_size=2),
    st.integers(max_value=0),
    st.floats(max_value=0, allow_nan=False),
)
BAD_GUID = st.one_of(
    st.text(max_size=40).filter(lambda t: not GUID.match(t.strip())),
    st.uuids().map(str).flatmap(lambda u: st.sampled_from([u[:-1], u + "0", u.replace("-", ""), "g" + u[1:]])),
)
BAD_REGION = st.one_of(
    st.text(max_size=20).filter(lambda t: normalize_region(t.strip()) not in GEO_CODES),
    st.sampled_from(["eastus9", "moon", "east-us-7", "global", "usgovvirginia"]),
)
BAD_NAMESERVER = st.one_of(
    st.sampled_from(["10.0.0.300", "a.b.c.d", "10.0.0.1:0", "10.0.0.1:99999", "10.0.0", "::1", "10.0.0.1:x", ""]),
    st.text("abc:/.", min_size=1, max_size=10),
)


def not_in(allowed: set[str]) -> st.SearchStrategy[str]:
    return st.text(max_size=15).filter(lambda t: t.strip() not in allowed)


# path -> strategy of values invalid there (the path is what the problem must name)
BU_BAD_VALUES: dict[tuple[str | int, ...], st.SearchStrategy[Any]] = {
    ("name",): bad_name(63, "finance") | WRONG_TYPES.filter(lambda v: not isinstance(v, str)),
    ("subscription_id",): BAD_GUID | WRONG_TYPES,
    ("tenant_id",): BAD_GUID | WRONG_TYPES,
    ("region",): BAD_REGION | WRONG_TYPES,
    ("resource_group",): bad_name(90, "rg-migrate") | WRONG_TYPES,
    ("vault_name",): bad_name(50, "rsv-finance") | WRONG_TYPES,
    ("private_endpoint_subnet", "resource_group"): bad_name(90, "rg-network-hub") | WRONG_TYPES,
    ("private_endpoint_subnet", "vnet"): bad_name(64, "vnet-hub") | WRONG_TYPES,
    ("private_endpoint_subnet", "subnet"): bad_name(80, "snet-pe") | WRONG_TYPES,
    ("dns_zone_resource_group",): bad_name(90, "rg-network-hub") | WRONG_TYPES,
    ("dns_zone_links", 0, "vnet"): bad_name(64, "vnet-hub") | WRONG_TYPES,
    ("appliances", 0, "name"): bad_name(63, "appliance-fin") | WRONG_TYPES,
    ("appliances", 0, "nameservers", 0): BAD_NAMESERVER | WRONG_TYPES,
    ("storage_accounts", 1, "name"): bad_name(24, "stfinrepl") | WRONG_TYPES,
    ("storage_accounts", 2, "resource_group"): bad_name(90, "rg-storage") | WRONG_TYPES,
    ("storage_accounts", 0, "role"): not_in({"replication", "cache"}) | WRONG_TYPES,
    ("approval", "mode"): not_in({"wait_for_owner", "self_approve"}) | WRONG_TYPES,
    ("approval", "timeout_seconds"): NOT_A_NUMBER,
    ("timeouts", "role_seconds"): NOT_A_NUMBER,
    ("limits", "arm_concurrency"): NOT_A_NUMBER | st.integers(min_value=65),
    ("tags",): st.one_of(st.lists(st.text(max_size=3), max_size=2), st.text(max_size=5), st.integers()),
}
BU_REQUIRED: list[tuple[str | int, ...]] = [
    *[(k,) for k in ("name", "subscription_id", "tenant_id", "region", "resource_group", "vault_name")],
    *[(k,) for k in ("private_endpoint_subnet", "dns_zone_resource_group", "appliances")],
    ("private_endpoint_subnet", "subnet"),
    ("dns_zone_links", 0, "resource_group"),
    ("appliances", 0, "name"),
    ("storage_accounts", 1, "role"),
]
BU_SECTIONS: list[tuple[str | int, ...]] = [
    (),
    ("private_endpoint_subnet",),
    ("appliances", 0),
    ("storage_accounts", 2),
    ("approval",),
    ("timeouts",),
    ("limits",),
]
UNKNOWN_KEY = st.from_regex(r"[a-z][a-z0-9]{0,12}", fullmatch=True)


def changed(data: dict[str, Any], path: tuple[str | int, ...], value: Any = ...) -> dict[str, Any]:
    """A deep copy of data with the value at path replaced, or removed when value is ...."""
    result = copy.deepcopy(data)
    node: Any = result
    for part in path[:-1]:
        node = node[part]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return result


@st.composite
def broken_business_units(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A business unit broken in one way, and the text its problem must name."""
    how = draw(st.sampled_from(["bad value", "missing key", "unknown key"]))
    if how == "bad value":
        path = draw(st.sampled_from(list(BU_BAD_VALUES)))
        data = changed(BU_DATA, path, draw(BU_BAD_VALUES[path]))
        return data, loc_text(path, data)
    if how == "missing key":
        path = draw(st.sampled_from(BU_REQUIRED))
        data = changed(BU_DATA, path)
        return data, f"{loc_text(path, data)}: required field is missing"
    section = draw(st.sampled_from(BU_SECTIONS))
    node: Any = BU_DATA
    for part in section:
        node = node[part]
    key = draw(UNKNOWN_KEY.filter(lambda k: k not in node))
    data = changed(BU_DATA, (*section, key), draw(st.text(max_size=5) | st.integers()))
    return data, loc_text((*section, key), data)


def test_the_unbroken_data_is_valid() -> None:
    # Otherwise every property below would pass for the wrong reason.
    assert BusinessUnit.parse(BU_DATA).name == "finance"
    assert len(parse_csv(csv_text(VALID_ROWS), BU)) == len(VALID_ROWS)
    assert len(parse_yaml({"servers": VALID_ROWS}, BU)) == len(VALID_ROWS)


@PROPERTY
@given(broken_business_units())
def test_a_broken_business_unit_is_one_input_error_naming_the_field(case: tuple[dict[str, Any], str]) -> None:
    data, field = case
    with pytest.raises(Exception) as caught:  # exactly InputError is asserted below
        BusinessUnit.parse(data, "bu.yaml")
    message = assert_clean_input_error(caught.value)
    assert any(p.startswith(field) for p in caught.value.problems), (field, message)


@FEW
@given(broken_business_units())
def test_a_broken_business_unit_file_is_one_input_error_naming_the_field(
    scratch: Path, case: tuple[dict[str, Any], str]
) -> None:
    data, field = case
    path = scratch / "bu.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(Exception) as caught:
        load_business_unit(path)
    assert_clean_input_error(caught.value)
    assert any(p.startswith(field) for p in caught.value.problems), (field, caught.value.problems)


@FEW
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_text_as_a_business_unit_file_is_valid_or_an_input_error(scratch: Path, text: str) -> None:
    path = scratch / "junk.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_business_unit(path)
    except Exception as error:  # anything but InputError is a failure
        # fix=False: model.py's "<top level>: expected a mapping" problem states no fix (reported to the lead).
        assert_clean_input_error(error, fix=False)


def test_a_deeply_nested_business_unit_file_is_an_input_error(scratch: Path) -> None:
    path = scratch / "deep.yaml"
    path.write_text("[" * 5000, encoding="utf-8")
    with pytest.raises(InputError):
        load_business_unit(path)


# ---------------------------------------------------------------------------------------------------------------------
# Inventories

GOOD_TAGS = "app=ledger;tier=web"
ACCOUNTS = [("stfinrepl01", ""), ("stfinrepl01", "stfincache01"), ("stfinpremrepl01", "stfincache01")]
VALID_ROWS: list[dict[str, Any]] = [
    {
        "server": f"fin-{kind}-{i:02d}",
        "source_type": kind,
        "appliance": "appliance-fin-01",
        "replication_account": ACCOUNTS[i % 3][0],
        "cache_account": ACCOUNTS[i % 3][1],
        "target_resource_group": "rg-finance-servers",
        "target_vnet": "vnet-hub-eastus",
        "target_subnet": "snet-fin-app",
        "business_unit": "finance",
        "wave": f"wave-0{1 + i % 2}",
        "tags": GOOD_TAGS if i % 2 else "",
    }
    for i, kind in enumerate(SOURCE_TYPES)
]


def csv_text(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    return out.getvalue()


def as_yaml_row(row: dict[str, Any]) -> dict[str, Any]:
    """The YAML spelling of a CSV row: good tags as a mapping (bad ones stay text, which YAML also accepts, so the
    loader parses them), empty optional cells left out."""
    entry = {k: v for k, v in row.items() if not (k in OPTIONAL_COLUMNS and v == "")}
    if entry.get("tags") == GOOD_TAGS:
        entry["tags"] = dict(pair.split("=", 1) for pair in GOOD_TAGS.split(";"))
    return entry


def is_source_type(text: str) -> bool:
    return re.sub(r"[\s_-]", "", text).lower() in SOURCE_TYPES


# column -> values invalid there (in CSV and YAML alike)
ROW_BAD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "server": st.one_of(bad_name(64, "fin-web-01"), st.sampled_from(["-web", "web-", ".web", "web.", "web 01"])),
    "source_type": st.text(max_size=12).filter(lambda t: not is_source_type(t)),
    "appliance": st.one_of(bad_name(63, "appliance-fin"), st.from_regex(r"appliance-x[a-z0-9]{0,8}", fullmatch=True)),
    "replication_account": st.one_of(
        bad_name(24, "stfinrepl"),
        st.from_regex(r"stx[a-z0-9]{1,10}", fullmatch=True),  # well-formed but not declared
        st.just("stfincache01"),  # declared with role cache
    ),
    "cache_account": st.one_of(
        bad_name(24, "stfincache").filter(lambda t: t.strip() != ""),  # empty is allowed: chosen at run time
        st.from_regex(r"stx[a-z0-9]{1,10}", fullmatch=True),
    ),
    "target_resource_group": bad_name(90, "rg-finance"),
    "target_vnet": bad_name(64, "vnet-hub"),
    "target_subnet": bad_name(80, "snet-fin"),
    "target_vm_size": st.sampled_from(["D4 s v5", "4cores", "Standard D4", "_x", "a/b"]),
    "license_type": st.sampled_from(["BYOL", "yes", "LinuxServer"]),
    "test_vnet": bad_name(64, "vnet-test").filter(lambda t: t.strip() != ""),  # empty: the BU's test network
    # A well-formed subnet without its test_vnet is refused too (they go together).
    "test_subnet": st.one_of(bad_name(80, "snet-test").filter(lambda t: t.strip() != ""), st.just("snet-test")),
    "business_unit": st.one_of(
        bad_name(63, "finance"),
        st.from_regex(r"[A-Za-z][a-z0-9-]{0,10}", fullmatch=True).filter(lambda t: t.lower() != "finance"),
    ),
    "wave": st.one_of(bad_name(63, "wave-01"), st.from_regex(r"[0-9][a-z0-9]{0,5}", fullmatch=True)),
    "tags": st.sampled_from(["owner", "=x", "a=1;a=2", "a/b=1", "a<b=1", "k=" + "v" * 257, "x" * 513 + "=1"])
    | st.just(";".join(f"k{i}=v" for i in range(51))),
}
assert set(ROW_BAD_VALUES) == set(COLUMNS)


@st.composite
def broken_inventories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str], str]:
    """(rows, columns, text the problem must contain) for an inventory broken in one way."""
    rows = copy.deepcopy(draw(st.lists(st.sampled_from(VALID_ROWS), min_size=1, max_size=5, unique_by=id)))
    columns = list(COLUMNS)
    how = draw(st.sampled_from(["bad value", "duplicate", "misspelt column", "missing column"]))
    if how == "bad value":
        index = draw(st.integers(0, len(rows) - 1))
        column = draw(st.sampled_from(COLUMNS))
        rows[index][column] = draw(ROW_BAD_VALUES[column])
        return rows, columns, f"row {{{index}}}, column {column}"
    if how == "duplicate":
        index = draw(st.integers(0, len(rows) - 1))
        copy_of = dict(
            rows[index], server=draw(st.sampled_from([str.upper, str.lower, str.title]))(rows[index]["server"])
        )
        rows.append(copy_of)
        return rows, columns, f"row {{{len(rows) - 1}}}, column server: duplicate server"
    if how == "misspelt column":  # a required column with one letter dropped: a typo, not someone's extra column
        column = draw(st.sampled_from(REQUIRED_COLUMNS))
        cut = draw(st.integers(1, len(column) - 2))
        typo = column[:cut] + column[cut + 1 :]
        columns[columns.index(column)] = typo
        for row in rows:
            row[typo] = row.pop(column)
        return rows, columns, f"column {typo}: unknown column — did you mean {column}?"
    column = draw(st.sampled_from(REQUIRED_COLUMNS))
    columns.remove(column)
    return rows, columns, f"column {column}: required column is missing"


@PROPERTY
@given(broken_inventories())
def test_a_broken_csv_inventory_names_the_row_and_column(case: tuple[list[dict[str, Any]], list[str], str]) -> None:
    rows, columns, expected = case
    with pytest.raises(Exception) as caught:
        parse_csv(csv_text(rows, columns), BU, "inv.csv")
    message = assert_clean_input_error(caught.value)
    assert expected.format(*range(2, len(rows) + 2)) in message  # CSV: header is row 1, data from row 2


@PROPERTY
@given(broken_inventories())
def test_a_broken_yaml_inventory_names_the_row_and_column(case: tuple[list[dict[str, Any]], list[str], str]) -> None:
    rows, columns, expected = case
    entries = [as_yaml_row({c: row[c] for c in columns if c in row}) for row in rows]
    with pytest.raises(Exception) as caught:
        parse_yaml({"servers": entries}, BU, "inv.yaml")
    message = assert_clean_input_error(caught.value)
    expected = expected.format(*range(1, len(rows) + 1))  # YAML: the entry's position, from 1
    assert expected in message.replace("required column is missing from every entry", "required column is missing")


@PROPERTY
@given(st.lists(UNKNOWN_KEY.filter(lambda k: k not in COLUMNS), min_size=1, max_size=3, unique=True))
def test_columns_plmigrate_does_not_read_are_ignored_with_a_note(extra: list[str]) -> None:
    rows = [dict(row, **{name: "x" for name in extra}) for row in VALID_ROWS]
    notes: list[str] = []
    assert len(parse_csv(csv_text(rows, [*COLUMNS, *extra]), BU, "inv.csv", notes)) == len(VALID_ROWS)
    assert len(notes) == 1 and all(name in notes[0] for name in extra) and "ignored" in notes[0], notes
    notes.clear()
    assert len(parse_yaml({"servers": [as_yaml_row(row) for row in rows]}, BU, "inv.yaml", notes)) == len(VALID_ROWS)
    assert len(notes) == 1 and all(name in notes[0] for name in extra), notes


@PROPERTY
@given(
    st.sampled_from(COLUMNS),
    st.integers(0, len(VALID_ROWS) - 1),
    WRONG_TYPES.filter(lambda v: v is not None) | st.lists(st.text(max_size=3), min_size=1, max_size=2),
)
def test_wrong_types_in_yaml_name_the_row_and_column(column: str, index: int, value: Any) -> None:
    if column == "tags" and isinstance(value, dict):
        value = {"k": value}  # a mapping is right for tags; a mapping inside it is not
    entries = [as_yaml_row(row) for row in VALID_ROWS]
    entries[index][column] = value
    with pytest.raises(Exception) as caught:
        parse_yaml({"servers": entries}, BU, "inv.yaml")
    message = assert_clean_input_error(caught.value)
    assert f"row {index + 1}, column {column}" in message


@PROPERTY
@given(st.sampled_from(REQUIRED_COLUMNS), st.integers(0, len(VALID_ROWS) - 1), st.sampled_from(["", "  ", None]))
def test_an_empty_required_cell_names_its_row_and_column(column: str, index: int, value: str | None) -> None:
    rows = copy.deepcopy(VALID_ROWS)
    rows[index][column] = value or ""
    with pytest.raises(InputError) as caught:
        parse_csv(csv_text(rows), BU, "inv.csv")
    assert caught.value.problems == [f"row {index + 2}, column {column}: no value — fill it in"]

    entries = [as_yaml_row(row) for row in VALID_ROWS]
    entries[index][column] = value
    with pytest.raises(InputError) as caught:
        parse_yaml({"servers": entries}, BU, "inv.yaml")
    assert caught.value.problems == [f"row {index + 1}, column {column}: no value — fill it in"]


@FEW
@given(
    st.sampled_from([".csv", ".yaml"]),
    st.one_of(
        st.text(max_size=300),
        st.builds(lambda junk, rows: csv_text(rows) + junk, st.text(max_size=40), st.just(VALID_ROWS[:2])),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    ),
)
def test_any_text_as_an_inventory_is_valid_or_an_input_error(scratch: Path, suffix: str, text: str) -> None:
    path = scratch / f"junk{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_inventory(path, BU)
    except Exception as error:  # anything but InputError is a failure
        assert_clean_input_error(error)


def test_a_deeply_nested_inventory_file_is_an_input_error(scratch: Path) -> None:
    path = scratch / "deep.yaml"
    path.write_text("servers: " + "[" * 5000, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_inventory(path, BU)
    assert caught.value.problems == ["<file>: nested too deeply to read — write servers: as a flat list of entries"]


def test_optional_columns_are_what_the_properties_assume() -> None:
    lifecycle = {"target_vm_size", "license_type", "test_vnet", "test_subnet"}
    assert set(OPTIONAL_COLUMNS) == {"cache_account", "tags", *lifecycle}
