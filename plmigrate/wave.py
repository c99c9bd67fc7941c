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
from plmigrate.inventory import Server
from plmigrate.lifecycle import LifecycleReport
from plmigrate.model import BusinessUnit
from plmigrate.report import AccountReport, table_cell
from plmigrate.rules import AccountFacts, CacheChoice, select_cache_account

T = TypeVar("T")

STATES = ("ready", "blocked")


class ServerState(BaseModel):
    """Where a server stands at the end of the wave run."""

    server: str
    source_type: str
    appliance: str
    replication_account: str
    cache_account: str | None = None
    state: Literal["ready", "blocked"]
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
    servers: list[ServerState] = Field(default_factory=list)
    lifecycle: LifecycleReport | None = Field(default=None, description="With a target past ready: each stage.")

    @property
    def counts(self) -> dict[str, int]:
        tally = Counter(s.state for s in self.servers)
        return {state: tally.get(state, 0) for state in STATES}

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


def render_wave_markdown(report: WaveReport, blocked_shown: int = 50) -> str:
    counts = report.counts
    lines = [
        f"# Wave {report.wave} of {report.business_unit}" + (" (dry run)" if report.dry_run else ""),
        "",
        f"**{len(report.servers)} servers: {counts['ready']} ready, {counts['blocked']} blocked.**",
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
            f"{'created' if endpoint and endpoint.written else 'in place'} | "
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
