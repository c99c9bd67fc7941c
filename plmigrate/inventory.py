"""Wave inventories: which servers move, from what, through which accounts, to where; validated whole.

An inventory is a CSV file (what people export from spreadsheets and discovery tools) or a YAML file
(a list of rows under `servers:`), one row per server, checked against the business unit it belongs to.
Every row is validated before anything is returned, so a bad inventory never half-applies: all
problems come back at once in one `InputError`, each as "row N, column C: what is wrong — fix".

Row numbers are what a spreadsheet shows: in CSV the header is row 1 and the first server row 2
(blank lines count as rows, as they do when the file is opened in a spreadsheet). In YAML a row is the
entry's position under `servers:`, counted from 1; the error's headline says so.

Columns and their rules are documented in docs/inventory.md.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from plmigrate.errors import InputError
from plmigrate.model import (
    _TAG_FORBIDDEN,
    BusinessUnit,
    ResourceGroupName,
    SimpleName,
    StorageAccountName,
    SubnetName,
    VnetName,
    _reject_path_like,
    _short_repr,
    describe_validation_error,
    load_yaml,
    not_utf8_problem,
)
from plmigrate.rules import SourceType

__all__ = [
    "COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "Inventory",
    "Server",
    "ServerName",
    "group_rows",
    "load_inventory",
    "parse_csv",
    "parse_yaml",
    "servers_by_wave",
    "storage_accounts_needed",
]

# Azure VM names: 1-64 letters, digits, '_', '.', '-'; not starting or ending with '.' or '-'.
_SERVER = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_MAX_TAGS = 50


def _server_name(value: str) -> str:
    _reject_path_like(value, "server")
    if len(value) > 64:
        raise ValueError(f"{_short_repr(value)} is {len(value)} characters long — Azure VM names have at most 64")
    if not _SERVER.match(value):
        raise ValueError(
            f"{value!r} is not a valid Azure VM name — use 1-64 letters, digits, '_', '.' or '-', "
            "not starting or ending with '.' or '-'"
        )
    return value


ServerName = Annotated[str, AfterValidator(_server_name)]


def _parse_tags(text: str) -> dict[str, str]:
    """`key=value;key=value` (the CSV spelling of tags) as a mapping; ValueError naming the bad pair."""
    tags: dict[str, str] = {}
    for pair in text.split(";"):
        if not pair.strip():
            continue  # tolerate 'a=1;' and ';;'
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ValueError(f"{pair.strip()!r} is not a tag — write tags as key=value pairs separated by ';'")
        if key in tags:
            raise ValueError(f"tag {key!r} is given twice — give each tag once")
        tags[key] = value
    return tags


def _business_unit(info: ValidationInfo) -> BusinessUnit | None:
    context = info.context
    return context.get("business_unit") if isinstance(context, dict) else None


class Server(BaseModel):
    """One server of a wave: its source, the appliance and accounts it replicates through, and its target.

    The field `name` is the inventory column `server`; both spellings are accepted when building one.
    Checks against the business unit (declared appliance and accounts, matching name) run when it is
    passed as validation context `{"business_unit": bu}`, as `load_inventory` does.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, validate_by_name=True, validate_by_alias=True
    )

    name: ServerName = Field(
        alias="server",
        description="The machine's name, also the target VM's name (1-64 letters, digits, '_', '.', '-').",
    )
    source_type: SourceType = Field(
        description="Where the server runs now: vmware, hyperv, physical, aws or gcp (case-insensitive)."
    )
    appliance: SimpleName = Field(description="The replication appliance that discovers and replicates it.")
    replication_account: StorageAccountName = Field(
        description="The storage account its disks replicate into: one declared with role replication."
    )
    cache_account: StorageAccountName | None = Field(
        default=None,
        description=(
            "The storage account that stages its replication data, when pinned; a declared cache or replication "
            "account. Empty: chosen at run time (a Hyper-V server on a Premium replication account needs one)."
        ),
    )
    target_resource_group: ResourceGroupName = Field(description="The resource group the migrated VM goes in.")
    target_vnet: VnetName = Field(description="The VNet the migrated VM is attached to.")
    target_subnet: SubnetName = Field(description="The subnet of target_vnet the migrated VM is attached to.")
    business_unit: SimpleName = Field(description="The business unit the server belongs to (its file's name).")
    wave: SimpleName = Field(description="The migration wave the server moves in (case-insensitive, kept lower-case).")
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tags for the migrated VM (CSV: key=value;key=value, YAML: a mapping)."
    )
    target_vm_size: str | None = Field(
        default=None,
        description="The Azure VM size of the migrated VM (e.g. Standard_D4s_v5). Empty: Azure picks one that fits.",
    )
    license_type: Literal["NoLicenseType", "WindowsServer"] | None = Field(
        default=None,
        description="Azure Hybrid Benefit for Windows Server: WindowsServer, or NoLicenseType. Empty: not specified.",
    )
    test_vnet: VnetName | None = Field(
        default=None,
        description="The isolated VNet its test migration runs in, when not the business unit's test network.",
    )
    test_subnet: SubnetName | None = Field(
        default=None, validate_default=True, description="The subnet of test_vnet (with test_vnet)."
    )

    def __hash__(self) -> int:
        # Server names are unique (case-insensitive) within an inventory; tags (a dict) are not hashable.
        return hash(self.name.lower())

    # -- spelling tolerance --------------------------------------------------------------------------------------------

    @field_validator("source_type", mode="before")
    @classmethod
    def _normalize_source_type(cls, value: Any) -> Any:
        # "VMware", "Hyper-V", "hyper v" all mean the same thing in exported spreadsheets.
        return re.sub(r"[\s_-]", "", value).lower() if isinstance(value, str) else value

    @field_validator("replication_account", "cache_account", "wave", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        # Storage account names are lower-case in Azure; wave labels compare case-insensitively.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("target_vm_size", mode="before")
    @classmethod
    def _vm_size(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() and not re.match(r"^[A-Za-z][A-Za-z0-9_-]{1,63}$", value.strip()):
            raise ValueError(f"{value!r} is not an Azure VM size — write it as Azure names it, e.g. Standard_D4s_v5")
        return value

    @field_validator("license_type", mode="before")
    @classmethod
    def _license_spelling(cls, value: Any) -> Any:
        # Spreadsheets write "Windows Server", "windowsserver", "none".
        if isinstance(value, str):
            key = re.sub(r"[\s_-]", "", value).lower()
            return {"windowsserver": "WindowsServer", "nolicensetype": "NoLicenseType", "none": "NoLicenseType"}.get(
                key, value
            )
        return value

    @field_validator("test_subnet")
    @classmethod
    def _test_network_whole(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "test_vnet" in info.data and bool(info.data["test_vnet"]) != bool(value):
            raise ValueError("test_vnet and test_subnet go together — fill in both, or neither")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_from_text(cls, value: Any) -> Any:
        return _parse_tags(value) if isinstance(value, str) else value

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        if len(tags) > _MAX_TAGS:
            raise ValueError(f"{len(tags)} tags — Azure allows at most {_MAX_TAGS} per resource")
        for key, value in tags.items():
            if not key or len(key) > 512 or _TAG_FORBIDDEN & set(key):
                raise ValueError(
                    f"tag name {_short_repr(key)} is invalid — use 1-512 characters without < > % & \\ ? /"
                )
            if len(value) > 256:
                raise ValueError(f"tag {_short_repr(key)} has a value longer than 256 characters — shorten it")
        return tags

    # -- checks against the business unit -----------------------------------------------------------------------------

    @field_validator("appliance")
    @classmethod
    def _declared_appliance(cls, value: str, info: ValidationInfo) -> str:
        bu = _business_unit(info)
        if bu is None:
            return value
        try:
            return bu.appliance(value).name  # the declared spelling
        except KeyError:
            declared = ", ".join(a.name for a in bu.appliances)
            raise ValueError(
                f"appliance {value!r} is not declared in business unit {bu.name!r} — use one of: {declared} "
                "(or declare it under appliances: in the business-unit file)"
            ) from None

    @field_validator("replication_account")
    @classmethod
    def _declared_replication_account(cls, value: str, info: ValidationInfo) -> str:
        bu = _business_unit(info)
        if bu is None:
            return value
        replication = [a.name for a in bu.storage_accounts if a.role == "replication"]
        choices = f"use one of: {', '.join(replication)}" if replication else "declare one"
        try:
            account = bu.storage_account(value)
        except KeyError:
            raise ValueError(
                f"storage account {value!r} is not declared in business unit {bu.name!r} — {choices} "
                "(or add it under storage_accounts: with role: replication)"
            ) from None
        if account.role != "replication":
            raise ValueError(
                f"storage account {value!r} is declared with role {account.role}, not replication — {choices} "
                "(or change its role in the business-unit file)"
            )
        return value

    @field_validator("cache_account")
    @classmethod
    def _declared_cache_account(cls, value: str | None, info: ValidationInfo) -> str | None:
        bu = _business_unit(info)
        if bu is None or value is None:
            return value
        try:
            bu.storage_account(value)  # cache or replication role: either may stage data (rules decide at run time)
        except KeyError:
            declared = ", ".join(a.name for a in bu.storage_accounts) or "none"
            raise ValueError(
                f"storage account {value!r} is not declared in business unit {bu.name!r} — use a declared account "
                f"(declared: {declared}), add it under storage_accounts: with role: cache, or leave the cell empty"
            ) from None
        return value

    @field_validator("business_unit")
    @classmethod
    def _this_business_unit(cls, value: str, info: ValidationInfo) -> str:
        bu = _business_unit(info)
        if bu is None:
            return value
        if value.lower() != bu.name.lower():
            raise ValueError(
                f"the row belongs to business unit {value!r}, but the inventory is loaded for {bu.name!r} — "
                f"write {bu.name} here, or load the row with its own business-unit file"
            )
        return bu.name


COLUMNS: tuple[str, ...] = tuple(field.alias or name for name, field in Server.model_fields.items())
REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    field.alias or name for name, field in Server.model_fields.items() if field.is_required()
)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in REQUIRED_COLUMNS)


class Inventory(BaseModel):
    """The servers of one inventory file, every one valid and named once (case-insensitive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    servers: list[Server] = Field(description="The servers, in file order.")

    @model_validator(mode="after")
    def _unique_names(self) -> Inventory:
        seen: dict[str, int] = {}
        for index, server in enumerate(self.servers):
            key = server.name.lower()
            if key in seen:
                raise ValueError(
                    f"duplicate server {server.name!r} (entries {seen[key] + 1} and {index + 1}) — "
                    "give each server one row"
                )
            seen[key] = index
        return self

    def waves(self) -> list[str]:
        """The waves in the inventory, in order of first appearance."""
        return list(servers_by_wave(self.servers))

    def wave(self, name: str) -> list[Server]:
        """The servers of one wave (case-insensitive); InputError naming the waves there are when it is unknown."""
        groups = servers_by_wave(self.servers)
        key = name.strip().lower()
        if key not in groups:
            known = ", ".join(groups) or "none"
            raise InputError([f"wave {name!r}: not in the inventory — use one of the waves in it: {known}"])
        return groups[key]

    @classmethod
    def load(cls, path: str | Path, business_unit: BusinessUnit) -> Inventory:
        """Read and validate a CSV or YAML inventory; InputError listing every problem."""
        return cls(servers=_load(Path(path), business_unit, None))


def load_inventory(
    path: str | Path, business_unit: BusinessUnit, wave: str | None = None, notes: list[str] | None = None
) -> list[Server]:
    """The servers of a CSV (.csv) or YAML (.yaml, .yml) inventory, every row validated against `business_unit`.

    Raises InputError listing every problem at once ("row N, column C: what is wrong — fix"). With `wave`,
    only that wave's servers are returned (after the whole file is validated); an unknown wave is an
    InputError naming the waves the file has. `notes` gets what is worth saying but no problem: columns
    plmigrate does not read (a spreadsheet's owner or notes column), which are ignored.
    """
    path = Path(path)
    servers = _load(path, business_unit, notes)
    if wave is None:
        return servers
    try:
        return Inventory(servers=servers).wave(wave)
    except InputError as error:
        raise InputError(error.problems, str(path)) from None


def servers_by_wave(servers: Iterable[Server]) -> dict[str, list[Server]]:
    """Servers grouped by wave, waves in order of first appearance, servers in file order."""
    groups: dict[str, list[Server]] = {}
    for server in servers:
        groups.setdefault(server.wave, []).append(server)
    return groups


def storage_accounts_needed(servers: Iterable[Server]) -> list[str]:
    """Every storage account the servers name (replication and pinned cache), each once, sorted."""
    names: set[str] = set()
    for server in servers:
        names.add(server.replication_account)
        if server.cache_account:
            names.add(server.cache_account)
    return sorted(names)


# ---------------------------------------------------------------------------------------------------------------------
# Reading files


def _load(path: Path, business_unit: BusinessUnit, notes: list[str] | None) -> list[Server]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise InputError(
            [f"<file>: unknown inventory format {path.suffix or '(no extension)'!r} — use a .csv, .yaml or .yml file"],
            str(path),
        )
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError([f"<file>: cannot read it ({error.strerror or error}) — check the path"], str(path)) from None
    try:
        text = raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as error:
        raise InputError([not_utf8_problem(raw, error)], str(path)) from None
    if suffix == ".csv":
        return parse_csv(text, business_unit, str(path), notes)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
        problem = getattr(error, "problem", None) or "unparseable"
        raise InputError([f"{where}: invalid YAML ({problem}) — fix the syntax"], str(path)) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InputError(
            ["<file>: nested too deeply to read — write servers: as a flat list of entries"], str(path)
        ) from None
    return parse_yaml(data, business_unit, str(path), notes)


def _column_key(header: str) -> str:
    """A header as a column name: 'Target VNet', 'target-vnet' and ' TARGET_VNET ' all become 'target_vnet'."""
    return re.sub(r"[\s_-]+", "_", header.replace("\ufeff", "").strip().lower()).strip("_")


def _meant_column(column: str, present: Iterable[str]) -> str | None:
    """The column an unknown header most likely misspells, if that column is not there already:
    then it is a typo to fix; otherwise the column is someone else's (owner, notes) and ignored."""
    absent = [c for c in COLUMNS if c not in set(present)]
    close = difflib.get_close_matches(column, absent, n=1, cutoff=0.8)
    return close[0] if close else None


def _misspelt_column_problem(where: str, column: str, meant: str) -> str:
    return f"{where}, column {column}: unknown column — did you mean {meant}? rename it (columns: {', '.join(COLUMNS)})"


def _ignored_note(source: str, columns: Sequence[str]) -> str:
    noun = "column" if len(columns) == 1 else "columns"
    return f"{source}: {noun} {', '.join(columns)} ignored (not read by plmigrate, which reads: {', '.join(COLUMNS)})"


def _sniff_delimiter(text: str) -> str:
    # Spreadsheets in many locales export ';'-separated "CSV"; decide from the header line.
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_csv(
    text: str, business_unit: BusinessUnit, source: str = "inventory", notes: list[str] | None = None
) -> list[Server]:
    """Validate CSV text (header row, then one row per server); InputError listing every problem.
    Columns plmigrate does not read are ignored and named in `notes`, unless one looks like a
    misspelt column that is missing (then it is a problem)."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        records = list(reader)
    except csv.Error as error:
        raise InputError([f"row {reader.line_num}: unreadable CSV ({error}) — fix the quoting"], source) from None
    # Spreadsheet row numbers: record index + 1; blank rows count but hold nothing.
    numbered = [(index + 1, record) for index, record in enumerate(records) if any(cell.strip() for cell in record)]
    if not numbered:
        raise InputError(["<file>: the file is empty — write a header row and one row per server"], source)
    header_row, header = numbered[0]
    problems: list[str] = []
    columns: dict[int, str] = {}  # position -> column name
    first_at: dict[str, int] = {}
    for position, cell in enumerate(header):
        key = _column_key(cell)
        if not key:
            continue  # unnamed: only a problem if a row puts a value there (checked below)
        if key in first_at:
            problems.append(
                f"row {header_row}, column {key}: appears twice in the header (columns {first_at[key] + 1} and "
                f"{position + 1}) — keep one"
            )
            continue
        first_at[key] = position
        if key in COLUMNS:
            columns[position] = key
    ignored: list[str] = []
    for key in first_at:
        if key in COLUMNS:
            continue
        meant = _meant_column(key, first_at)
        if meant:
            problems.append(_misspelt_column_problem(f"row {header_row}", key, meant))
        else:
            ignored.append(key)
    if ignored and notes is not None:
        notes.append(_ignored_note(source, ignored))
    missing = [c for c in REQUIRED_COLUMNS if c not in first_at]
    problems += [f"row {header_row}, column {c}: required column is missing — add it to the header" for c in missing]

    rows: list[tuple[int, dict[str, Any]]] = []
    cell_problems: dict[int, list[str]] = {}
    for row_number, record in numbered[1:]:
        values: dict[str, Any] = {}
        for position, cell in enumerate(record):
            if position in columns:
                values[columns[position]] = cell
            elif cell.strip() and not _column_key(header[position] if position < len(header) else ""):
                cell_problems.setdefault(row_number, []).append(
                    f"row {row_number}, column {position + 1}: value {_short_repr(cell.strip())} has no column "
                    "header — name the column, delete the value, or quote a value that contains the delimiter"
                )
        rows.append((row_number, values))
    return _validate(rows, set(missing), business_unit, problems, source, cell_problems)


def parse_yaml(
    data: Any, business_unit: BusinessUnit, source: str = "inventory", notes: list[str] | None = None
) -> list[Server]:
    """Validate parsed YAML (a mapping with a `servers:` list of rows); InputError listing every problem.
    Keys plmigrate does not read are ignored and named in `notes`, unless one looks like a misspelt
    column that no entry has (then it is a problem)."""
    headline = f"{source} (row N = the Nth entry under servers:)"
    if data is None:
        raise InputError(["<file>: the file is empty — write servers: and one entry per server"], source)
    if not isinstance(data, dict) or "servers" not in data:
        raise InputError(
            ["<top level>: expected a mapping with a servers: list (servers: then '- server: ...' entries) — add it"],
            source,
        )
    problems = [
        f"{_short_repr(key)}: unknown top-level key — remove it (only servers: is allowed)"
        for key in data
        if key != "servers"
    ]
    entries = data["servers"]
    if not isinstance(entries, list):
        raise InputError(
            [*problems, f"servers: expected a list of entries, got {_kind(entries)} — use '- ' items"], source
        )
    rows: list[tuple[int, dict[str, Any] | None]] = []
    cell_problems: dict[int, list[str]] = {}
    unknown: dict[str, list[int]] = {}
    present: set[str] = set()
    for index, entry in enumerate(entries):
        row_number = index + 1
        if not isinstance(entry, dict):
            cell_problems[row_number] = [
                f"row {row_number}: expected a mapping of columns (server: ..., source_type: ...), got {_kind(entry)} "
                "— write the entry as key: value lines"
            ]
            rows.append((row_number, None))
            continue
        values: dict[str, Any] = {}
        for raw_key, value in entry.items():
            key = _column_key(str(raw_key))
            if key in COLUMNS:
                if key in values:
                    cell_problems.setdefault(row_number, []).append(
                        f"row {row_number}, column {key}: given twice (as {_short_repr(raw_key)} too) — keep one"
                    )
                values[key] = value
                present.add(key)
            else:
                unknown.setdefault(key or repr(raw_key), []).append(row_number)
        rows.append((row_number, values))
    ignored: list[str] = []
    for key, where in unknown.items():
        meant = _meant_column(key, present)
        if meant:
            shown = ", ".join(map(str, where[:5])) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
            problems.append(_misspelt_column_problem(f"row {shown}", key, meant))
        else:
            ignored.append(key)
    if ignored and notes is not None:
        notes.append(_ignored_note(source, ignored))
    # A column no entry has is one problem, not one per entry.
    missing = {c for c in REQUIRED_COLUMNS if c not in present} if any(v is not None for _, v in rows) else set()
    problems += [
        f"column {c}: required column is missing from every entry — add {c}: to each entry"
        for c in REQUIRED_COLUMNS
        if c in missing
    ]
    return _validate(rows, missing, business_unit, problems, headline, cell_problems)


def _validate(
    rows: Sequence[tuple[int, dict[str, Any] | None]],
    missing_columns: set[str],
    business_unit: BusinessUnit,
    problems: list[str],
    source: str,
    cell_problems: dict[int, list[str]] | None = None,
) -> list[Server]:
    """Validate each row and the rows together; InputError with `problems` (file-level), then every row's
    problems in row order (`cell_problems`: those found while reading, by row; a row of None is not a row)."""
    if not rows and not problems:
        problems.append("<file>: no servers — add one row per server")
    servers: list[Server] = []
    first_row: dict[str, int] = {}
    context = {"business_unit": business_unit}
    for row_number, values in rows:
        problems += (cell_problems or {}).get(row_number, [])
        if values is None:
            continue  # not a row at all; already reported
        # Empty cells are absent values: an optional column takes its default, a required one is reported.
        present = {k: v for k, v in values.items() if v is not None and not (isinstance(v, str) and not v.strip())}
        try:
            servers.append(Server.model_validate(present, context=context))
        except ValidationError as error:
            details = error.errors(include_url=False)
            for detail, line in zip(details, describe_validation_error(error, Server), strict=True):
                column = str(detail["loc"][0]) if detail["loc"] else ""
                if column in missing_columns:
                    continue  # reported once for the whole column
                if detail["type"] == "missing":
                    problems.append(f"row {row_number}, column {column}: no value — fill it in")
                else:
                    problems.append(f"row {row_number}, column {line}")
        name = present.get("server")
        if isinstance(name, str):
            key = name.strip().lower()
            if key in first_row:
                problems.append(
                    f"row {row_number}, column server: duplicate server {name.strip()!r} (also in row "
                    f"{first_row[key]}; names are case-insensitive) — give each server one row"
                )
            else:
                first_row[key] = row_number
    if problems:
        raise InputError(group_rows(problems), source)
    return servers


_ROW = re.compile(r"^row (\d+), (.*)$", re.S)


def group_rows(problems: Sequence[str]) -> list[str]:
    """The same problem on many rows, said once: "rows 2, 3, 4, 5, 6 and 49,995 more, column
    source_type: ...". Order is kept (each group where its first row was); other problems as given."""
    groups: dict[str, list[int]] = {}
    order: list[tuple[str, str]] = []  # ("row", rest) or ("text", problem)
    for problem in problems:
        found = _ROW.match(problem)
        if not found:
            order.append(("text", problem))
            continue
        rest = found.group(2)
        if rest not in groups:
            groups[rest] = []
            order.append(("row", rest))
        groups[rest].append(int(found.group(1)))
    lines = []
    for kind, text in order:
        if kind == "text":
            lines.append(text)
            continue
        rows = groups[text]
        if len(rows) == 1:
            lines.append(f"row {rows[0]}, {text}")
        else:
            shown = ", ".join(map(str, rows[:5])) + (f" and {len(rows) - 5:,} more" if len(rows) > 5 else "")
            lines.append(f"rows {shown} ({len(rows):,} rows), {text}")
    return lines


_KINDS = {list: "a list", dict: "a mapping", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)
