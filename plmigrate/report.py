"""What a landing-zone run leaves behind, and its Markdown rendering for the Prefect UI and the CLI.

Pure: builds text from the facts the tasks returned; publishing is a task's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args, overload

from pydantic import BaseModel, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from plmigrate.approval import ResumeRecord
from plmigrate.facts import EndpointFacts, RoleGrant, VaultFacts
from plmigrate.rules import CacheChoice, DnsResult

T = TypeVar("T")


class Rows(Sequence[T]):
    """A report's per-server table (one row each, in order), as a model field: `Rows[ServerState]`.

    Not a list on purpose. When a flow returns, Prefect walks the return value looking for futures
    to resolve (`resolve_futures_to_states`: into every list, tuple, dict, dataclass and pydantic
    model), about ten visits per server of a wave's report: 1.3 s for 10,000 servers on this
    machine (docs/performance.md). A sequence of its own kind is one leaf of that walk. Everything
    else sees a read-only sequence: iteration, len, indexing (a slice is a list), equality with a
    list; pydantic validates it from any list of rows and serialises it as one."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Iterable[T] = ()) -> None:
        self._rows = tuple(rows)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        return list(self._rows[index]) if isinstance(index, slice) else self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[T]:
        return iter(self._rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows):
            return self._rows == other._rows
        if isinstance(other, list | tuple):
            return self._rows == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable like one

    def __repr__(self) -> str:
        return f"Rows({list(self._rows)!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        (row,) = get_args(source) or (Any,)
        as_list = handler.generate_schema(list[row])
        from_list = core_schema.no_info_after_validator_function(cls, as_list)
        return core_schema.json_or_python_schema(
            json_schema=from_list,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_list]),
            serialization=core_schema.plain_serializer_function_ser_schema(list, return_schema=as_list),
        )


class AccountReport(BaseModel):
    name: str
    id: str
    role: str
    sku: str
    roles: list[RoleGrant] = Field(default_factory=list)
    trusted_services_changed: bool = False
    endpoint: EndpointFacts | None = None
    dns: list[DnsResult] = Field(default_factory=list)
    approval: str = ""  # how a connection that awaited its owner came to be decided (who resumed, the note)


class LandingZoneReport(BaseModel):
    business_unit: str
    subscription_id: str
    region: str
    dry_run: bool = False  # then `written` means "would be written" and nothing was
    vault: VaultFacts
    vault_endpoint: EndpointFacts
    zones: list[str]
    zones_created: list[str] = Field(default_factory=list)  # those of `zones` this run created
    vault_dns: list[DnsResult] = Field(default_factory=list)
    accounts: list[AccountReport] = Field(default_factory=list)
    cache_plan: dict[str, dict[str, CacheChoice]] = Field(default_factory=dict)  # replication account -> source type

    @property
    def writes(self) -> int:
        """How many resources this run created or changed (0 on a re-run where Azure matched)."""
        n = int(self.vault.written) + int(self.vault_endpoint.written) + len(self.zones_created)
        for account in self.accounts:
            n += sum(g.created for g in account.roles) + int(account.trusted_services_changed)
            n += int(bool(account.endpoint and account.endpoint.written))
        return n


def _change(written: bool, dry_run: bool, done: str = "created") -> str:
    """How the run treated a resource: what it did, or in a dry run what it would do."""
    if not written:
        return "unchanged"
    return f"would be {done}" if dry_run else done


def _dns_rows(results: list[DnsResult]) -> list[str]:
    return [
        f"| `{r.fqdn}` | {r.nameserver} | {', '.join(r.got) or '—'} | {'ok' if r.ok else 'WRONG'} |" for r in results
    ]


def render_markdown(report: LandingZoneReport) -> str:
    lines = [
        f"# Private Link landing zone: {report.business_unit}",
        "",
        f"Subscription `{report.subscription_id}`, region `{report.region}`.",
        "",
        "## Resources",
        "",
        "| what | resource | this run |",
        "| --- | --- | --- |",
        f"| vault | `{report.vault.id}` | {_change(report.vault.written, report.dry_run, 'written')} |",
        f"| vault identity | `{report.vault.principal_id}` | |",
        f"| vault endpoint | `{report.vault_endpoint.id}` | {_change(report.vault_endpoint.written, report.dry_run)} |",
    ]
    lines += [
        f"| private DNS zone | `{z}` | {_change(z in report.zones_created, report.dry_run)} |" for z in report.zones
    ]
    for account in report.accounts:
        if account.endpoint:
            state = _change(account.endpoint.written, report.dry_run)
            lines.append(f"| blob endpoint of {account.name} | `{account.endpoint.id}` | {state} |")
    lines += ["", "## FQDNs and private IPs", "", "| FQDN | IPs |", "| --- | --- |"]
    endpoints = [report.vault_endpoint] + [a.endpoint for a in report.accounts if a.endpoint]
    for endpoint in endpoints:
        lines += [f"| `{fqdn}` | {', '.join(ips)} |" for fqdn, ips in sorted(endpoint.dns.items())]
    lines += [
        "",
        "## Role assignments of the vault identity",
        "",
        "| storage account | role | this run |",
        "| --- | --- | --- |",
    ]
    for account in report.accounts:
        lines += [
            f"| {account.name} | {g.role_name} | {_change(g.created, report.dry_run, 'granted')} |"
            for g in account.roles
        ]
    lines += [
        "",
        "## Connections",
        "",
        "| storage account | connection | state | approval |",
        "| --- | --- | --- | --- |",
    ]
    for account in report.accounts:
        if account.endpoint:
            c = account.endpoint.connection
            lines.append(f"| {account.name} | `{c.name}` | {c.status} | {table_cell(account.approval) or '—'} |")
    lines += [
        "",
        "## DNS from the appliance's nameservers",
        "",
        "| FQDN | nameserver | answer | verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += _dns_rows(report.vault_dns)
    for account in report.accounts:
        lines += _dns_rows(account.dns)
    if report.cache_plan:
        lines += [
            "",
            "## Cache account per source type",
            "",
            "| replication account | source | cache account | why |",
            "| --- | --- | --- | --- |",
        ]
        for replication, choices in report.cache_plan.items():
            for source, choice in choices.items():
                lines.append(f"| {replication} | {source} | {choice.account or '—'} | {choice.reason} |")
    if report.dry_run:
        lines += ["", f"Dry run: **{report.writes}** resources would be created or changed; nothing was written."]
    else:
        lines += ["", f"Vault, endpoint, zone, role and firewall changes this run: **{report.writes}**."]
    return "\n".join(lines) + "\n"


def table_cell(text: str) -> str:
    """Text fit for one Markdown table cell: no line breaks, no bare pipes."""
    return " ".join(text.split()).replace("|", "\\|")


def render_approval_request(business_unit: str, mode: str, timeout_seconds: float, instructions: list[str]) -> str:
    """The approval artifact while the run waits: what the owner approves, and how the run goes on."""
    how = (
        "The run is **paused**: once the owner has approved, press **Resume** on it (Approved By and Note go "
        "into its logs and report). A resume before the approval says the connection is still Pending and "
        "pauses again."
        if mode == "pause"
        else "The run re-reads Azure and goes on by itself once the owner has approved."
    )
    parts = [f"# Approval awaited: {business_unit}", f"{how} It waits up to {timeout_seconds:g} s.", *instructions]
    return "\n\n".join(parts) + "\n"


def render_approval_outcome(
    business_unit: str, connections: dict[str, tuple[str, str, str]], resumes: list[ResumeRecord]
) -> str:
    """The approval artifact once the wait is over: each connection's state now and how it came.
    `connections`: storage account -> (connection name, state, how it was decided)."""
    waiting = [name for name, (_, state, _) in connections.items() if state == "Pending"]
    lines = [
        f"# Approval: {business_unit}",
        "",
        "Every connection is decided." if not waiting else f"Still **Pending** at the deadline: {', '.join(waiting)}.",
        "",
        "| storage account | connection | state | how |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {name} | `{connection}` | {state} | {table_cell(how) or '—'} |"
        for name, (connection, state, how) in connections.items()
    ]
    if resumes:
        lines += ["", "## Resumes", "", "| # | approved by | note | states Azure showed |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {i} | {table_cell(r.approved_by) or '—'} | {table_cell(r.note) or '—'} | "
            f"{', '.join(f'{n}: {s}' for n, s in r.states.items())} |"
            for i, r in enumerate(resumes, 1)
        ]
    return "\n".join(lines) + "\n"


class MissingFile(BaseModel):
    """A file named in the run's form that is not there: the form field, the path as given, where
    it was looked for, and the files of its kind in the nearest folder that exists."""

    field: str
    given: str
    looked_for: str
    root: str
    folder: str
    nearby: list[str] = Field(default_factory=list)


def missing_file_fix(missing: MissingFile) -> str:
    """What to do about a file the form names but that is not there."""
    kind = f"{Path(missing.given).suffix} files" if Path(missing.given).suffix else "files"
    there = ", ".join(f"`{name}`" for name in missing.nearby) if missing.nearby else f"no {kind}"
    return (
        f"**{missing.field}** is `{missing.given}`: there is no such file at `{missing.looked_for}` "
        f"(relative paths start at the project root, `{missing.root}`). In `{missing.folder}` there are {there}. "
        f"Correct {missing.field} in the run's form (Run → Custom run) and run again."
    )


def render_failure(what: str, exc: BaseException, missing: Sequence[MissingFile] = ()) -> str:
    """A failed run's last word for the Prefect UI: what failed, why, and the fix. `missing` are
    the form's files that were not found (tasks/reporting.py looks)."""
    from plmigrate.azure import arm_error
    from plmigrate.errors import SHOWN_PROBLEMS, InputError, StepFailed

    lines = [f"# {what}: failed", ""]
    if isinstance(exc, InputError):
        where = f" in `{exc.source}`" if exc.source else ""
        lines += [f"Invalid input{where}; nothing was written. The problems:", ""]
        # "<file>: ..." is about the whole file: name it.
        named = f"`{exc.source}`" if exc.source else "the file"
        lines += [f"- {problem.replace('<file>', named, 1)}" for problem in exc.problems[:SHOWN_PROBLEMS]]
        if len(exc.problems) > SHOWN_PROBLEMS:
            lines.append(f"- … and {len(exc.problems) - SHOWN_PROBLEMS} more: fix these and run again to see the rest")
        if missing:
            lines += ["", "**Fix:**", ""]
            lines += [f"- {missing_file_fix(m)}" for m in missing]
    elif isinstance(exc, StepFailed):
        lines += [f"**Step:** {exc.step}", "", f"**On:** `{exc.resource}`", "", f"**Why:** {exc.reason}", ""]
        lines += ["**Fix:**", "", exc.fix or "see the task's log"]
    else:
        code, message = arm_error(exc)
        lines += [f"**Error:** `{code}`: {message}", "", "Re-run once fixed: every step resumes where Azure stands."]
    return "\n".join(lines) + "\n"
