"""What a person reads in the Prefect UI's forms (Run → Custom run, and the Resume dialog): the help
texts that depend on the checkout or on the run, such as the waves each inventory holds.

Prefect 3.9's default UI shows a field's description as plain text under its label (no Markdown),
so these texts carry no backticks or lists. Reading the inventories here is lenient on purpose: it
only feeds a help text, computed when the flow module is imported (so by `prefect deploy`); the run
itself validates the files in full.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator, WithJsonSchema

WAVES_DIR = Path(__file__).resolve().parents[1] / "deployments" / "waves"

BUSINESS_UNIT_HELP = (
    "The business unit's YAML file, relative to the project root, e.g. deployments/finance.yaml: its "
    "subscription, vault, subnet, storage accounts and approval policy."
)
INVENTORY_HELP = (
    "The servers to migrate, one row each (CSV or YAML, see docs/inventory.md), relative to the project "
    "root, e.g. deployments/waves/finance.csv."
)
TARGET_HELP = (
    "Where to run: azure (real Azure, with the Azure credentials of the worker), or sandbox:INFO_FILE for "
    "the sandbox started by plmigrate sandbox serve --info INFO_FILE."
)
DRY_RUN_HELP = "Read everything and report what would change, writing nothing. Use it for a first run against Azure."
APPROVED_BY_HELP = "Who approved the connection (the storage account's owner or their ticket), kept with the run."
NOTE_HELP = "Anything to keep with the approval, e.g. the change number."
REGISTERED_BY_HELP = "Who registered the appliance with the vault (or mended its process server), kept with the run."
READ_AGAIN_HELP = (
    "Read the vault again and go on with every appliance that is ready now. Untick to go on without the "
    "appliances still waiting: their servers end blocked, with the fix."
)
CUTOVER_TICKET_HELP = "The approved change ticket for this cutover, kept in the wave's evidence."
CUTOVER_APPROVER_HELP = "Who approves the cutover (the change board's approver), kept in the wave's evidence."
CUTOVER_SERVERS_HELP = "all, or the servers to cut over now, separated by commas (each must be tested and ready)."
CUTOVER_APPROVE_HELP = "Untick to refuse the cutover: nothing is cut over, and the run says so."
STAGE_HELP = (
    "How far to take every server of the wave, through the stages before it. ready: the landing zone and "
    "each server's readiness only, nothing replicated. replicating: replication enabled. replicated: the "
    "initial copy done. test-migrated: a test VM runs in the isolated test network. tested: the test VM "
    "removed again. migrated: the cutover, failed over to Azure (the source shut down) and committed. completed: "
    "replication removed, the VM kept. migrated and completed need a change ticket and run only inside a "
    "cutover window of the business unit."
)
CHANGE_HELP = (
    "The approved change ticket for a cutover (stage migrated or completed), e.g. CHG0042. Empty: the run "
    "pauses before the first cutover write and asks for it. Not used by the other stages."
)
APPROVER_HELP = "Who approved the change, kept in the cutover evidence. Empty: the user name the worker runs as."
SERVERS_HELP = (
    "With a stage past ready: only these servers of the wave, by name, separated by commas, e.g. "
    "fin-web-01, fin-web-02. Empty: every server of the wave."
)


def _text_or_none(value: Any) -> Any:
    """A form's text field left empty (or blank) means "none"; an API caller's None stays None."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _names_or_none(value: Any) -> Any:
    """Names typed into one text field, separated by commas (or spaces), or a list of names from
    the CLI and Python callers; nothing named means "none"."""
    if isinstance(value, str):
        value = re.split(r"[\s,;]+", value)
    if isinstance(value, list | tuple):
        names = [name.strip() for name in value if isinstance(name, str) and name.strip()]
        return names or None
    return value


# Optional values shown as plain text fields: Prefect's form renders `str | None` as a string/None
# toggle ('Property is type "None"'), so the schema says string and the model reads empty as None.
# The schema carries no default: the form starts empty, and an empty field may be sent as "" or left out.
FormText = Annotated[str | None, BeforeValidator(_text_or_none), WithJsonSchema({"type": "string"})]
FormNames = Annotated[list[str] | None, BeforeValidator(_names_or_none), WithJsonSchema({"type": "string"})]


def no_default(schema: dict[str, Any]) -> None:
    """json_schema_extra for a FormText/FormNames field: drop the `null` default from its schema (a
    text field cannot hold null; the server checks a run's parameters against the schema)."""
    schema.pop("default", None)


INVENTORY_SUFFIXES = (".csv", ".yaml", ".yml")
MAX_WAVES_LISTED = 12


def _wave_values(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return []
        header = [re.sub(r"[\s_-]+", "_", cell.strip().lower()) for cell in rows[0]]
        if "wave" not in header:
            return []
        column = header.index("wave")
        return [row[column] for row in rows[1:] if len(row) > column]
    data = yaml.safe_load(text)
    servers = data.get("servers") if isinstance(data, dict) else data
    if not isinstance(servers, list):
        return []
    return [str(entry["wave"]) for entry in servers if isinstance(entry, dict) and entry.get("wave") is not None]


def inventory_waves(directory: Path = WAVES_DIR) -> dict[str, dict[str, int]]:
    """File name → {wave: number of servers}, waves in order of first appearance, for each
    inventory in `directory`; files that cannot be read are left out."""
    found: dict[str, dict[str, int]] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in INVENTORY_SUFFIXES or not path.is_file():
            continue
        try:
            values = _wave_values(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, csv.Error, RecursionError):
            continue
        counts: dict[str, int] = {}
        for value in values:
            wave = value.strip().lower()
            if wave:
                counts[wave] = counts.get(wave, 0) + 1
        if counts:
            found[path.name] = counts
    return found


def _servers(count: int) -> str:
    return f"{count} server" if count == 1 else f"{count} servers"


def wave_help(found: Mapping[str, Mapping[str, int]]) -> str:
    """The Wave field's help: what it is, then each inventory's waves (from `inventory_waves`)."""
    text = "Which wave of the inventory to run (a value of its wave column)."
    if not found:
        return text
    parts = []
    for name, waves in found.items():
        listed = [f"{wave} ({_servers(count)})" for wave, count in list(waves.items())[:MAX_WAVES_LISTED]]
        more = len(waves) - len(listed)
        parts.append(f"{name} has {', '.join(listed)}" + (f" and {more} more" if more > 0 else ""))
    return f"{text} The inventories in deployments/waves/: {'; '.join(parts)}."


def resume_help(accounts: Iterable[str]) -> str:
    """The Resume dialog's help, for the storage accounts whose connection is Pending."""
    names = ", ".join(sorted(accounts))
    return (
        f"Resume once the owner of {names} has approved the private endpoint connection (the approval "
        "artifact says how). The run then reads Azure again: a connection still Pending pauses it again."
    )
