"""Pure decisions of a migration wave: which cache account each server uses, which storage
accounts the wave needs, how servers are grouped into Prefect tasks, and what state each server
ends in (ready, or blocked with the reason and the fix). No I/O: the wave flow feeds these the
facts its tasks read from Azure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from plmigrate.azure import arm_error
from plmigrate.errors import StepFailed
from plmigrate.facts import EndpointFacts, VaultFacts
from plmigrate.inventory import Server
from plmigrate.lifecycle import LifecycleReport
from plmigrate.model import BusinessUnit
from plmigrate.report import AccountReport, Rows, table_cell
from plmigrate.rules import AccountFacts, CacheChoice, select_cache_account

T = TypeVar("T")

# "pending" is a dry run's word for a server nothing blocks: it says what the real run would
# still do for it; a dry run writes and resolves nothing, so it can never say "ready".
STATES = ("ready", "pending", "blocked")


class ServerState(BaseModel):
    """Where a server stands at the end of the wave run."""

    server: str
    source_type: str
    appliance: str
    replication_account: str
    cache_account: str | None = None
    state: Literal["ready", "pending", "blocked"]
    reason: str
    fix: str = ""


class Problem(BaseModel):
    """Why a shared piece (a storage account, an appliance's DNS) is not usable, and the fix."""

    reason: str
    fix: str = ""


def describe_failure(exc: BaseException) -> Problem:
    """A failed task's exception as the one line a migration engineer needs, and the fix."""
    if isinstance(exc, StepFailed):
        return Problem(reason=f"{exc.step}: {exc.reason}", fix=exc.fix)
    code, message = arm_error(exc)
    return Problem(reason=f"{code}: {message}", fix="see the task's log in the Prefect UI; re-run the wave once fixed")


def choose_cache_accounts(
    servers: Iterable[Server], accounts: dict[str, AccountFacts], bu: BusinessUnit
) -> dict[str, CacheChoice]:
    """Server name -> cache choice. A server's pinned cache account is the only candidate it gets;
    otherwise the business unit's cache accounts are tried in file order."""
    declared = [accounts[a.name] for a in bu.storage_accounts if a.role == "cache" and a.name in accounts]
    memo: dict[tuple[str, str, str | None], CacheChoice] = {}
    choices: dict[str, CacheChoice] = {}
    for server in servers:
        key = (server.source_type, server.replication_account, server.cache_account)
        if key not in memo:
            candidates = [accounts[server.cache_account]] if server.cache_account else declared
            memo[key] = select_cache_account(
                server.source_type, accounts[server.replication_account], candidates, bu.region
            )
        choices[server.name] = memo[key]
    return choices


def accounts_needed(servers: Iterable[Server], choices: dict[str, CacheChoice]) -> list[str]:
    """Every storage account the wave's servers replicate or cache through, each once, sorted."""
    names = set()
    for server in servers:
        names.add(server.replication_account)
        choice = choices[server.name]
        if choice.ok and choice.account:
            names.add(choice.account)
    return sorted(names)


def server_state(
    server: Server,
    choice: CacheChoice,
    account_problems: dict[str, Problem],
    dns_problems: dict[tuple[str, str], Problem],
    vault_key: str,
) -> ServerState:
    """Ready when its cache choice holds, its accounts were prepared and approved, and DNS from
    its appliance resolved the vault's and its accounts' names privately; else blocked, naming
    the first thing in the way. `dns_problems` is keyed by (appliance, vault_key or account)."""

    def blocked(problem: Problem) -> ServerState:
        return ServerState(**common, state="blocked", reason=problem.reason, fix=problem.fix)

    common = {
        "server": server.name,
        "source_type": server.source_type,
        "appliance": server.appliance,
        "replication_account": server.replication_account,
        "cache_account": choice.account,
    }
    if not choice.ok:
        return blocked(Problem(reason=choice.reason, fix=choice.fix))
    accounts = [server.replication_account] + ([choice.account] if choice.account else [])
    for account in dict.fromkeys(accounts):
        if account in account_problems:
            problem = account_problems[account]
            return blocked(Problem(reason=f"storage account {account}: {problem.reason}", fix=problem.fix))
    for part in [vault_key, *dict.fromkeys(accounts)]:
        problem = dns_problems.get((server.appliance, part))
        if problem is not None:
            return blocked(Problem(reason=f"DNS from appliance {server.appliance}: {problem.reason}", fix=problem.fix))
    cache = choice.account or "none needed"
    return ServerState(**common, state="ready", reason=f"cache account: {cache}; endpoints approved; DNS private")


def dry_run_needs(
    accounts: Sequence[str],
    appliance: str,
    vault: VaultFacts,
    vault_endpoint: EndpointFacts,
    reports: dict[str, AccountReport],
) -> list[str]:
    """What the real run would still do before a server of these storage accounts, behind this
    appliance, could be ready: resources to create, roles to grant, approvals to wait for, and DNS,
    which a dry run cannot check (the records it resolves do not exist yet)."""
    create = (["vault " + vault.name] if vault.written else []) + (
        ["the vault's private endpoint"] if vault_endpoint.written else []
    )
    grant, firewall, approve = [], [], []
    for name in accounts:
        report = reports.get(name)
        if report is None:
            continue
        endpoint = report.endpoint
        if endpoint is not None and endpoint.written:
            create.append(f"blob endpoint of {name}")
            approve.append(f"{name}'s new connection (at once only where our identity may approve on it)")
        elif endpoint is not None and endpoint.connection.status == "Pending":
            approve.append(f"{name}'s connection, Pending: its owner must approve it")
        roles = sum(g.created for g in report.roles)
        if roles:
            grant.append(f"{roles} role{'s' if roles > 1 else ''} on {name}")
        if report.trusted_services_changed:
            firewall.append(name)
    needs = []
    if create:
        needs.append("create " + ", ".join(create))
    if grant:
        needs.append("grant " + ", ".join(grant))
    if firewall:
        needs.append("let trusted Microsoft services through the firewall of " + ", ".join(firewall))
    if approve:
        needs.append("await approval of " + "; ".join(approve))
    needs.append(f"check DNS from appliance {appliance} (not checkable in a dry run)")
    return needs


def as_dry_run(
    states: Sequence[ServerState],
    vault: VaultFacts,
    vault_endpoint: EndpointFacts,
    reports: dict[str, AccountReport],
) -> list[ServerState]:
    """A dry run's server states: a server nothing blocks is "pending", with what it would still
    need; blocked ones stay blocked (a dry run finds those for real)."""
    memo: dict[tuple[str, ...], str] = {}
    out = []
    for state in states:
        if state.state != "ready":
            out.append(state)
            continue
        accounts = tuple(
            dict.fromkeys([state.replication_account, *([state.cache_account] if state.cache_account else [])])
        )
        key = (state.appliance, *accounts)
        if key not in memo:
            memo[key] = "would still need to: " + "; ".join(
                dry_run_needs(accounts, state.appliance, vault, vault_endpoint, reports)
            )
        out.append(state.model_copy(update={"state": "pending", "reason": memo[key], "fix": "run without --dry-run"}))
    return out


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """Groups of at most `size`, in order: one Prefect task each (docs/design.md: ~13 ms per task run
    and a server that drops records once a run maps thousands of tasks)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class WaveReport(BaseModel):
    business_unit: str
    wave: str
    dry_run: bool = False
    vault_id: str
    accounts: list[AccountReport] = Field(default_factory=list)
    account_problems: dict[str, Problem] = Field(default_factory=dict)
    servers: Rows[ServerState] = Field(default_factory=Rows)
    lifecycle: LifecycleReport | None = Field(default=None, description="With a target past ready: each stage.")

    @property
    def counts(self) -> dict[str, int]:
        tally = Counter(s.state for s in self.servers)
        # Only a dry run has pending servers: a real run's counts are ready and blocked.
        return {state: tally.get(state, 0) for state in STATES if self.dry_run or state != "pending"}

    @property
    def writes(self) -> int:
        """Resources created or changed for the wave's accounts (0 on a re-run that found all in place)."""
        return sum(
            sum(g.created for g in a.roles)
            + int(a.trusted_services_changed)
            + int(bool(a.endpoint and a.endpoint.written))
            for a in self.accounts
        )


def server_rows(states: Iterable[ServerState]) -> list[dict[str, str]]:
    """The table artifact's rows: one per server, the columns a person scans."""
    return [
        {
            "server": s.server,
            "state": s.state,
            "source": s.source_type,
            "appliance": s.appliance,
            "replication account": s.replication_account,
            "cache account": s.cache_account or "",
            "reason": s.reason,
            "fix": s.fix,
        }
        for s in states
    ]


def summary_counts(report: WaveReport) -> str:
    """The counts line: ready and blocked; in a dry run also pending, with where to read what each
    pending server would still need."""
    counts = report.counts
    if not report.dry_run:
        return f"{counts['ready']} ready, {counts['blocked']} blocked"
    return (
        f"{counts['ready']} ready, {counts['pending']} pending (dry run: what each would still need is in "
        f"the servers table), {counts['blocked']} blocked"
    )


def _endpoint_change(endpoint: EndpointFacts | None, dry_run: bool) -> str:
    if endpoint is None or not endpoint.written:
        return "in place"
    return "would be created" if dry_run else "created"


def render_wave_markdown(report: WaveReport, blocked_shown: int = 50) -> str:
    lines = [
        f"# Wave {report.wave} of {report.business_unit}" + (" (dry run)" if report.dry_run else ""),
        "",
        f"**{len(report.servers)} servers: {summary_counts(report)}.**",
        "",
        f"Vault `{report.vault_id}`.",
        "",
        "| storage account | role | SKU | endpoint | connection |",
        "| --- | --- | --- | --- | --- |",
    ]
    for account in report.accounts:
        endpoint = account.endpoint
        lines.append(
            f"| {account.name} | {account.role} | {account.sku} | "
            f"{_endpoint_change(endpoint, report.dry_run)} | "
            f"{endpoint.connection.status if endpoint else '—'} |"
        )
    for name, problem in sorted(report.account_problems.items()):
        lines.append(f"| {name} | | | **not ready** | {table_cell(problem.reason)} |")
    blocked = [s for s in report.servers if s.state == "blocked"]
    if blocked:
        lines += ["", "## Blocked servers", "", "| server | reason | fix |", "| --- | --- | --- |"]
        lines += [f"| {s.server} | {table_cell(s.reason)} | {table_cell(s.fix)} |" for s in blocked[:blocked_shown]]
        if len(blocked) > blocked_shown:
            lines.append(f"| … | {len(blocked) - blocked_shown} more in the servers table | |")
    return "\n".join(lines) + "\n"
