"""The help texts of the Prefect UI's forms (plmigrate/form.py): the waves of each inventory,
read leniently from deployments/waves/, and the Resume dialog's help; and the wave flow's form as
Prefect builds it from the flow's signature (the schema the UI renders and the server enforces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect.input import RunInput
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools import validate

from flows.lifecycle import ApplianceRegistration, CutoverApproval
from flows.private_link import ConnectionApproval, private_link_landing_zone
from flows.wave import WaveRun, migration_wave
from plmigrate.form import MAX_WAVES_LISTED, inventory_waves, resume_help, wave_help
from plmigrate.lifecycle import ORDER


def test_the_shipped_inventories_list_their_waves() -> None:
    found = inventory_waves()
    assert found["finance.csv"] == {"wave-01": 36, "wave-02": 8}
    text = wave_help(found)
    assert "finance.csv has wave-01 (36 servers), wave-02 (8 servers)" in text
    assert "`" not in text  # shown as plain text under the label


def test_csv_and_yaml_are_read_leniently(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("\ufeffServer, Wave \nx,Wave-1\ny,wave-1\nz,wave-2\nshort\n")
    (tmp_path / "b.yaml").write_text("servers:\n  - {server: x, wave: w1}\n  - {server: y}\n  - oops\n")
    (tmp_path / "c.yml").write_text("- {server: x, wave: w9}\n")
    (tmp_path / "broken.yaml").write_text("servers: [\n")
    (tmp_path / "nowave.csv").write_text("server\nx\n")
    (tmp_path / "notes.txt").write_text("wave\nw\n")
    assert inventory_waves(tmp_path) == {"a.csv": {"wave-1": 2, "wave-2": 1}, "b.yaml": {"w1": 1}, "c.yml": {"w9": 1}}
    assert inventory_waves(tmp_path / "missing") == {}


def test_the_wave_help_without_inventories_and_with_many_waves() -> None:
    assert wave_help({}) == "Which wave of the inventory to run (a value of its wave column)."
    many = {f"w{i:02d}": 1 for i in range(MAX_WAVES_LISTED + 3)}
    text = wave_help({"big.csv": many})
    assert "big.csv has w00 (1 server), w01 (1 server)" in text and text.endswith("and 3 more.")
    assert f"w{MAX_WAVES_LISTED:02d}" not in text


def test_the_resume_help_names_the_pending_accounts() -> None:
    text = resume_help(["stfincache02", "stfincache01"])
    assert "stfincache01, stfincache02" in text and "Pending" in text


def wave_form() -> dict[str, Any]:
    """The wave flow's parameter schema, as `prefect deploy` sends it to the server."""
    return parameter_schema(migration_wave).model_dump()


def test_the_wave_form_has_a_stage_select_and_plain_text_fields() -> None:
    fields = wave_form()["definitions"]["WaveRun"]["properties"]
    stage = fields["to"]
    assert (stage["title"], stage["type"], stage["enum"], stage["default"]) == ("Stage", "string", list(ORDER), "ready")
    # Plain text fields: no string/None toggle (anyOf with null), no null default the field cannot hold.
    for name, title in {"change": "Change Ticket", "approver": "Approver", "servers": "Servers"}.items():
        assert fields[name] == {"type": "string", "title": title, "description": fields[name]["description"]}
    titles = {name: field["title"] for name, field in fields.items()}
    assert titles == {
        "business_unit_file": "Business Unit File",
        "inventory_file": "Inventory File",
        "wave": "Wave",
        "target": "Target",
        "dry_run": "Dry Run",
        "to": "Stage",
        "change": "Change Ticket",
        "approver": "Approver",
        "servers": "Servers",
    }


@pytest.mark.parametrize("flow", [migration_wave, private_link_landing_zone], ids=["wave", "landing-zone"])
def test_every_field_has_a_title_and_plain_text_help(flow: Any) -> None:
    schema = parameter_schema(flow).model_dump()
    fields = [
        *schema["properties"].values(),
        *(f for d in schema["definitions"].values() for f in d["properties"].values()),
    ]
    for field in fields:
        if "$ref" in field or "allOf" in field:
            continue  # the `run` parameter itself: titled by its definition
        assert field["title"] and field["description"], field
        assert "`" not in field["description"] and "anyOf" not in field, field  # the UI shows help raw


@pytest.mark.parametrize("form", [ConnectionApproval, ApplianceRegistration, CutoverApproval])
def test_every_resume_dialog_field_has_a_title_and_plain_text_help(form: type[RunInput]) -> None:
    # What the Resume dialog of a paused run shows: the RunInput's JSON schema.
    for name, field in form.model_json_schema()["properties"].items():
        assert field["title"] and field["description"], (name, field)
        assert "`" not in field["description"], (name, field)


def submitted(**form: Any) -> dict[str, Any]:
    """What the Custom run form sends for the `run` parameter, over the deployment's defaults."""
    run = {"business_unit_file": "deployments/finance.yaml", "inventory_file": "deployments/waves/finance.csv"}
    return {"run": run | {"wave": "wave-01"} | form}


@pytest.mark.parametrize(
    ("form", "change", "servers"),
    [
        ({}, None, None),  # fields left alone: not sent
        ({"change": "", "approver": "", "servers": ""}, None, None),  # typed into, then cleared
        ({"change": "  ", "servers": " , "}, None, None),
        (
            {"to": "migrated", "change": " CHG0042 ", "servers": "fin-web-01, fin-web-02"},
            "CHG0042",
            ["fin-web-01", "fin-web-02"],
        ),
        ({"servers": "fin-web-01 fin-web-02;fin-db-01"}, None, ["fin-web-01", "fin-web-02", "fin-db-01"]),
    ],
)
def test_what_the_form_sends_passes_the_servers_check_and_empty_means_none(
    form: dict[str, Any], change: str | None, servers: list[str] | None
) -> None:
    parameters = submitted(**form)
    assert validate(parameters, wave_form(), raise_on_error=False) == []  # enforce_parameter_schema
    run = WaveRun.model_validate(parameters["run"])
    assert (run.change, run.approver, run.servers) == (change, None, servers)
    assert run.to == form.get("to", "ready")


def test_the_form_refuses_a_stage_that_does_not_exist() -> None:
    assert validate(submitted(to="cutover"), wave_form(), raise_on_error=False)


def test_python_and_cli_callers_keep_their_types() -> None:
    run = WaveRun(business_unit_file="b.yaml", inventory_file="w.csv", wave="w", change=None, servers=["fin-web-01"])
    assert (run.change, run.approver, run.servers) == (None, None, ["fin-web-01"])
    assert WaveRun(business_unit_file="b.yaml", inventory_file="w.csv", wave="w", servers=[]).servers is None


def test_the_walkthrough_quotes_the_forms_help_verbatim() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "ui-walkthrough.md").read_text()
    for name, field in WaveRun.model_fields.items():
        assert f"| {field.title}{'' if field.is_required() else ' (Optional)'} |" in text, name
        assert f"| {field.description} |" in text or name == "wave", name  # the waves listed change with the files
