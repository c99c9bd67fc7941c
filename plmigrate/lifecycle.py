"""Pure decisions of a server's migration lifecycle: which stage a server is in, read from what
Azure Site Recovery says about it (its protected item, that item's job, the migrated VM), and
which action it needs next to move towards a target stage. No I/O: the lifecycle flow feeds
these the facts its tasks read, so the same facts always give the same answer.

Stages, in order (a server only moves forward):

    ready → replicating → replicated → test-migrated → tested → migrated → completed

plus `blocked` (with the reason and the fix) beside any of them. Each stage is entered by one
Site Recovery operation (`ENTERED_BY`); while that operation's job runs, the server is still in
the stage before, moving. Facts: docs/design.md ("Site Recovery"), docs/lifecycle.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel
from pydantic import Field as PydField

from plmigrate.report import Rows

if TYPE_CHECKING:
    from plmigrate.inventory import Server

Stage = Literal["blocked", "ready", "replicating", "replicated", "test-migrated", "tested", "migrated", "completed"]

ORDER: tuple[Stage, ...] = ("ready", "replicating", "replicated", "test-migrated", "tested", "migrated", "completed")
STAGES: tuple[Stage, ...] = ("blocked", *ORDER)
CUTOVER_STAGES: frozenset[str] = frozenset({"migrated", "completed"})

Action = Literal["enable", "test_failover", "test_failover_cleanup", "unplanned_failover", "commit", "remove"]

# The operation that takes a server into each stage, and the name Azure lists it under in
# `allowedOperations` (enable has none: an item that does not exist lists nothing).
ENTERED_BY: dict[Stage, Action] = {
    "replicating": "enable",
    "replicated": "enable",  # initial replication is Azure's work after the enable job, not a new write
    "test-migrated": "test_failover",
    "tested": "test_failover_cleanup",
    "migrated": "unplanned_failover",
    "completed": "remove",
}
ALLOWED_OPERATION: dict[Action, str | None] = {
    "enable": None,
    "test_failover": "TestFailover",
    "test_failover_cleanup": "TestFailoverCleanup",
    "unplanned_failover": "UnplannedFailover",
    "commit": "Commit",
    "remove": "DisableProtection",
}
# A job's `scenarioName` (and an item's `currentScenario.scenarioName`) -> the action it carries out.
SCENARIOS: dict[str, Action] = {
    "enabledr": "enable",
    "enableprotection": "enable",
    "testfailover": "test_failover",
    "testfailovercleanup": "test_failover_cleanup",
    "unplannedfailover": "unplanned_failover",
    "failover": "unplanned_failover",
    "commitfailover": "commit",
    "failovercommit": "commit",
    "commit": "commit",
    "disabledr": "remove",
    "disableprotection": "remove",
}
# Where each action's job, once it succeeds, leaves the server.
DESTINATION: dict[Action, Stage] = {
    "enable": "replicating",
    "test_failover": "test-migrated",
    "test_failover_cleanup": "tested",
    "unplanned_failover": "migrated",
    "commit": "migrated",
    "remove": "completed",
}
# The stage a server stays in while that action's job is running.
BEFORE: dict[Action, Stage] = {
    "enable": "ready",
    "test_failover": "replicated",
    "test_failover_cleanup": "test-migrated",
    "unplanned_failover": "tested",
    "commit": "tested",
    "remove": "migrated",
}
RUNNING_JOB_STATES = frozenset({"notstarted", "inprogress", "suspended", "cancelling"})
FAILED_JOB_STATES = frozenset({"failed", "cancelled", "completedwithinformation_failed"})
VERB: dict[Action, str] = {
    "enable": "enabling replication",
    "test_failover": "test migration (test failover)",
    "test_failover_cleanup": "test migration cleanup",
    "unplanned_failover": "cutover (failover with source shutdown)",
    "commit": "commit of the failover",
    "remove": "removing replication (migration complete)",
}


def rank(stage: Stage) -> int:
    """Position in ORDER; `blocked` ranks before `ready` (it has not moved anywhere)."""
    return ORDER.index(stage) if stage in ORDER else -1


def parse_stage(text: str) -> Stage:
    """A stage as typed on the command line; ValueError naming the stages."""
    value = text.strip().lower().replace("_", "-")
    if value not in ORDER:
        raise ValueError(f"--to: unknown stage {text!r} — use one of: {', '.join(ORDER)}")
    return value  # type: ignore[return-value]


def stages_between(current: Stage, target: Stage) -> list[Stage]:
    """The stages a server passes through from `current` (exclusive) to `target` (inclusive)."""
    return [s for s in ORDER if rank(current) < rank(s) <= rank(target)]


# ---------------------------------------------------------------------------------------------------------------------
# Reading Azure's facts


def _props(resource: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (resource or {}).get("properties") or {}


def _key(text: Any) -> str:
    return str(text or "").replace(" ", "").replace("_", "").lower()


def job_action(job: Mapping[str, Any] | None) -> Action | None:
    """The action a job carries out, from its scenario name (None for jobs that are not ours to read)."""
    return SCENARIOS.get(_key(_props(job).get("scenarioName")))


def job_name(job_id: str | None) -> str | None:
    """A job's name from its ARM ID (or an operation-status URL ending in it)."""
    if not job_id:
        return None
    return job_id.rstrip("/").split("?")[0].rsplit("/", 1)[-1] or None


def job_is_running(job: Mapping[str, Any] | None) -> bool:
    return _key(_props(job).get("state")) in RUNNING_JOB_STATES


def job_failed(job: Mapping[str, Any] | None) -> bool:
    return _key(_props(job).get("state")) in FAILED_JOB_STATES


def job_error(job: Mapping[str, Any]) -> tuple[str, str]:
    """(reason, fix) from a failed job: Azure's error code and message, its recommended action as the
    fix. Errors of the job's tasks are looked at when the job itself carries none."""
    props = _props(job)
    errors = list(props.get("errors") or [])
    for task in props.get("tasks") or []:
        errors += list((task or {}).get("errors") or [])
    for error in errors:
        service = (error or {}).get("serviceErrorDetails") or {}
        provider = (error or {}).get("providerErrorDetails") or {}
        code = service.get("code") or provider.get("errorCode")
        message = service.get("message") or provider.get("errorMessage")
        if code or message:
            action = service.get("recommendedAction") or provider.get("recommendedAction") or ""
            causes = service.get("possibleCauses") or provider.get("possibleCauses") or ""
            fix = action or causes or "see the job in the vault's Site Recovery jobs; re-run the wave once fixed"
            return f"{code or 'JobFailed'}: {message or props.get('stateDescription') or 'the job failed'}", fix
    state = props.get("state") or "Failed"
    return (
        f"JobFailed: job {props.get('friendlyName') or job.get('name')} ended {state}",
        "see the job in the vault's Site Recovery jobs; re-run the wave once fixed",
    )


def health_error(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """The item's first health error as (reason, fix), or None when Azure reports none."""
    for error in _props(item).get("healthErrors") or []:
        code = error.get("errorCode") or "HealthError"
        message = error.get("summaryMessage") or error.get("errorMessage") or ""
        fix = error.get("recommendedAction") or error.get("possibleCauses") or ""
        return f"{code}: {message}".rstrip(": "), fix
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Where a server stands


@dataclass(frozen=True)
class Position:
    """A server's stage as Azure's facts show it, and what is going on there.

    `running` is the action whose job is still running (the server is moving out of `stage`);
    `failed` the action whose job failed last (the server is blocked, `resume` is where it stands);
    `commit_pending` marks a failover that still needs its commit, `cleanup_due` a failed test
    failover whose cleanup comes before a new one."""

    stage: Stage
    reason: str
    fix: str = ""
    progress: float | None = None
    health: str = ""
    running: Action | None = None
    running_job: str | None = None
    failed: Action | None = None
    resume: Stage | None = None
    commit_pending: bool = False
    cleanup_due: bool = False
    hold: bool = False  # needs a person before anything is written for it
    allowed: frozenset[str] = field(default_factory=frozenset)

    @property
    def effective_stage(self) -> Stage:
        """The stage the server is really in: for a blocked server, where it stopped."""
        return (self.resume or self.stage) if self.stage == "blocked" else self.stage


def allowed_operations(item: Mapping[str, Any] | None) -> frozenset[str]:
    return frozenset(str(op) for op in _props(item).get("allowedOperations") or [])


def _settled_stage(item: Mapping[str, Any]) -> tuple[Stage, bool, str]:
    """(stage, commit pending, reason) of an item no job is working on."""
    props = _props(item)
    details = props.get("providerSpecificDetails") or {}
    allowed = allowed_operations(item)
    if _key(props.get("activeLocation")) == "recovery":
        if "Commit" in allowed:
            return "tested", True, "failed over (source shut down); the commit is next"
        return "migrated", False, "failed over with the source shut down and committed; the VM runs in Azure"
    if _key(props.get("protectionState")) == "enablingfailed":
        # Nothing replicates: a new enable (PUT) is what Azure accepts next.
        return "ready", False, "enabling replication failed"
    test_state = _key(props.get("testFailoverState"))
    if test_state == "failed":
        # A failed test failover leaves its cleanup due before anything else is allowed.
        return "replicated", False, "the test migration failed; its cleanup is due"
    if test_state not in ("", "none"):
        return "test-migrated", False, "a test VM runs in the isolated test network; clean up once validated"
    has_point = bool(details.get("lastRecoveryPointId") or details.get("lastRecoveryPointReceived"))
    if "TestFailover" in allowed and has_point:
        if props.get("lastSuccessfulTestFailoverTime"):
            return "tested", False, "test migration done and cleaned up; ready for cutover"
        return "replicated", False, "initial replication done; a recovery point exists"
    return "replicating", False, "initial replication in progress"


def stage_of(
    item: Mapping[str, Any] | None,
    job: Mapping[str, Any] | None = None,
    vm_exists: bool = False,
    foreign_vm: bool = False,
) -> Position:
    """The stage of one server from Azure's facts.

    `item` is its protected item (REST-shaped; None when it has none), `job` the item's current or
    latest job (None when none is known), `vm_exists` whether the migrated VM, tagged by this tool,
    exists (it tells `completed` from `ready` once the item is removed), `foreign_vm` whether a VM
    of the server's name exists in its target resource group without this tool's tags."""
    if item is None:
        if job is not None and job_action(job) == "remove" and job_is_running(job):
            return Position("migrated", "removing replication", running="remove", running_job=job.get("name"))
        if vm_exists:
            return Position("completed", "replication removed; the migrated VM is kept")
        if foreign_vm:
            # Never replicate onto a name that is taken: the VM is someone else's (or ours, untagged).
            return Position(
                "blocked",
                "a VM of this name already exists in the target resource group, not made by this tool",
                "rename the target VM or the existing one, or move the server to another resource group",
                resume="ready",
                hold=True,
            )
        if job is not None and job_action(job) == "enable" and job_failed(job):
            reason, fix = job_error(job)
            return Position("blocked", f"enabling replication failed: {reason}", fix, failed="enable", resume="ready")
        if job is not None and job_action(job) == "enable" and job_is_running(job):
            return Position("ready", "enabling replication", running="enable", running_job=job.get("name"))
        return Position("ready", "not replicating yet")

    props = _props(item)
    details = props.get("providerSpecificDetails") or {}
    allowed = allowed_operations(item)
    raw_progress = details.get("initialReplicationProgressPercentage")
    progress = float(raw_progress) if isinstance(raw_progress, int | float) else None
    health = str(props.get("replicationHealth") or "")
    problem = health_error(item)

    scenario = props.get("currentScenario") or {}
    scenario_action = SCENARIOS.get(_key(scenario.get("scenarioName")))
    current_job = job_name(scenario.get("jobId"))
    is_current = job is not None and current_job is not None and (job.get("name") or "").lower() == current_job.lower()
    if scenario_action and current_job and (job is None or not is_current or job_is_running(job)):
        # Azure is working on the item: follow that job, never start another.
        stage = "replicating" if scenario_action == "enable" else BEFORE[scenario_action]
        if scenario_action == "enable" and _settled_stage(item)[0] != "replicating":
            stage = _settled_stage(item)[0]
        return Position(
            stage,
            f"{VERB[scenario_action]} in progress",
            progress=progress,
            health=health,
            running=scenario_action,
            running_job=current_job,
            allowed=allowed,
        )
    if job is not None and job_is_running(job) and job_action(job):
        running = job_action(job)
        assert running is not None
        return Position(
            BEFORE[running] if running != "enable" else "replicating",
            f"{VERB[running]} in progress",
            progress=progress,
            health=health,
            running=running,
            running_job=job.get("name"),
            allowed=allowed,
        )

    stage, commit_pending, reason = _settled_stage(item)
    cleanup_due = _key(props.get("testFailoverState")) == "failed"
    if job is not None and job_failed(job) and job_action(job):
        failed = job_action(job)
        assert failed is not None
        if rank(stage) < rank(DESTINATION[failed]) or cleanup_due:
            why, fix = job_error(job)
            return Position(
                "blocked",
                f"{VERB[failed]} failed: {why}",
                fix,
                progress=progress,
                health=health,
                failed=failed,
                resume=stage,
                commit_pending=commit_pending,
                cleanup_due=cleanup_due,
                allowed=allowed,
            )
    if stage == "replicating":
        shown = f"{progress:g}%" if progress is not None else "starting"
        reason = f"initial replication in progress ({shown})"
        if problem:
            return Position(
                stage, f"{reason}; {health or 'unhealthy'}: {problem[0]}", problem[1], progress, health, allowed=allowed
            )
    return Position(
        stage,
        reason,
        progress=progress,
        health=health,
        commit_pending=commit_pending,
        cleanup_due=cleanup_due,
        allowed=allowed,
    )


# ---------------------------------------------------------------------------------------------------------------------
# What to do next


@dataclass(frozen=True)
class Next:
    """The decision for one server: `act` (issue `action`), `wait` (Azure is working, or replication
    is progressing), `done` (at or past the target) or `stuck` (needs a person; `reason` says why)."""

    kind: Literal["act", "wait", "done", "stuck"]
    action: Action | None = None
    reason: str = ""


def _needs(stage: Stage, commit_pending: bool, target: Stage) -> Action | Literal["wait"] | None:
    """The action that moves a settled server on from `stage` towards `target` (None: arrived)."""
    if rank(stage) >= rank(target) and not (commit_pending and rank(target) >= rank("migrated")):
        return None
    if commit_pending:
        return "commit"
    return {
        "ready": "enable",
        "replicating": "wait",  # initial replication is Azure's work
        "replicated": "test_failover",
        "test-migrated": "test_failover_cleanup",
        "tested": "unplanned_failover",
        "migrated": "remove",
    }[stage]  # type: ignore[return-value]


def next_action(
    position: Position,
    target: Stage,
    allowed: Iterable[str] | None = None,
    attempted: Iterable[Action] = (),
    cutover_allowed: bool = True,
) -> Next:
    """What a server needs next to reach `target`.

    `allowed` is the item's `allowedOperations` (defaults to what `position` read); `attempted` the
    actions already issued for it in this run (a job of one of them that failed is not retried in
    the same run); `cutover_allowed` whether cutover writes may be issued now (an approved change,
    inside a cutover window)."""
    allowed_now = frozenset(allowed) if allowed is not None else position.allowed
    if position.running:
        return Next("wait", reason=f"{VERB[position.running]} in progress (job {position.running_job})")
    stage = position.effective_stage
    if position.hold or (position.stage == "blocked" and position.failed in set(attempted)):
        return Next("stuck", reason=position.reason)
    needed = _needs(stage, position.commit_pending, target)
    if needed is not None and position.cleanup_due:
        needed = "test_failover_cleanup"
    if needed is None:
        return Next("done")
    if needed == "wait":
        return Next("wait", reason=position.reason)
    if needed in ("unplanned_failover", "commit", "remove") and not cutover_allowed:
        return Next("stuck", needed, reason="cutover not approved or outside a cutover window")
    operation = ALLOWED_OPERATION[needed]
    if operation is not None and operation not in allowed_now:
        listed = ", ".join(sorted(allowed_now)) or "none"
        return Next(
            "stuck",
            needed,
            reason=f"Azure does not allow {operation} on the item now (allowed: {listed}); {position.reason}",
        )
    return Next("act", needed)


def reached(position: Position, target: Stage) -> bool:
    """Whether a server stands at or past `target`, with nothing of its own still running."""
    if position.stage == "blocked" or position.running:
        return False
    if position.commit_pending and rank(target) >= rank("migrated"):
        return False
    return rank(position.stage) >= rank(target)


# ---------------------------------------------------------------------------------------------------------------------
# Deadlines and cutover windows

WAIT_KIND: dict[Stage, str] = {
    "ready": "enable",
    "replicating": "initial_replication",
    "replicated": "test_failover",
    "test-migrated": "test_failover",
    "tested": "cutover",
    "migrated": "cutover",
}


def wait_kind(position: Position) -> str:
    """Which of the business unit's lifecycle timeouts bounds a server's current wait."""
    if position.running == "enable":
        return "enable"
    if position.running in ("test_failover", "test_failover_cleanup"):
        return "test_failover"
    if position.running:
        return "cutover"
    return WAIT_KIND.get(position.effective_stage, "cutover")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    """A weekly cutover window: on `days`, from `start` to `end` local time (an end at or before the
    start runs past midnight into the next day)."""

    days: tuple[str, ...]
    start: dt.time
    end: dt.time

    def occurrences(self, around: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """This window's openings from a week before `around` to a week after (local, aware)."""
        out = []
        base = around.date()
        for offset in range(-8, 9):
            day = base + dt.timedelta(days=offset)
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opens = dt.datetime.combine(day, self.start, tzinfo=around.tzinfo)
            closes_day = day if self.end > self.start else day + dt.timedelta(days=1)
            closes = dt.datetime.combine(closes_day, self.end, tzinfo=around.tzinfo)
            out.append((opens, closes))
        return out


@dataclass(frozen=True)
class WindowCheck:
    inside: bool
    closes: dt.datetime | None = None  # when inside: when this window ends
    next_opens: dt.datetime | None = None  # when outside: when the next one starts
    next_closes: dt.datetime | None = None

    def describe(self) -> str:
        if self.inside and self.closes:
            return f"inside a cutover window until {self.closes.isoformat(timespec='minutes')}"
        if self.next_opens and self.next_closes:
            return (
                f"outside the cutover windows; the next opens {self.next_opens.strftime('%a')} "
                f"{self.next_opens.isoformat(timespec='minutes')} and closes "
                f"{self.next_closes.isoformat(timespec='minutes')}"
            )
        return "outside the cutover windows, and none is declared"


def check_window(windows: Iterable[Window], now: dt.datetime) -> WindowCheck:
    """Whether `now` (aware, in the business unit's time zone) is inside one of the windows, and
    if not, when the next one opens."""
    spans = sorted(span for w in windows for span in w.occurrences(now))
    inside = [closes for opens, closes in spans if opens <= now < closes]
    if inside:
        return WindowCheck(True, closes=max(inside))
    upcoming = [(opens, closes) for opens, closes in spans if opens > now]
    if upcoming:
        return WindowCheck(False, next_opens=upcoming[0][0], next_closes=upcoming[0][1])
    return WindowCheck(False)


# ---------------------------------------------------------------------------------------------------------------------
# Matching servers to protected items


def match_items(
    servers: Iterable[str],
    machine_ids: Mapping[str, str | None],
    items: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, Mapping[str, Any]], dict[str, str]]:
    """Each server's protected item: the item named after it, or one whose
    `fabricDiscoveryMachineId` is the machine the appliance discovered for it (the portal may have
    named it otherwise). Returns (server -> item, server -> problem) where a server with two items
    is a problem, not a guess."""
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    by_machine: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        by_name.setdefault(str(item.get("name", "")).lower(), []).append(item)
        machine = (_props(item).get("providerSpecificDetails") or {}).get("fabricDiscoveryMachineId")
        if machine:
            by_machine.setdefault(str(machine).lower(), []).append(item)
    found: dict[str, Mapping[str, Any]] = {}
    problems: dict[str, str] = {}
    for server in servers:
        candidates = {str(i.get("id", "")).lower(): i for i in by_name.get(server.lower(), [])}
        machine = machine_ids.get(server)
        if machine:
            candidates |= {str(i.get("id", "")).lower(): i for i in by_machine.get(machine.lower(), [])}
        if len(candidates) == 1:
            found[server] = next(iter(candidates.values()))
        elif len(candidates) > 1:
            names = ", ".join(sorted(str(i.get("name")) for i in candidates.values()))
            problems[server] = f"replicated more than once (protected items: {names})"
    return found, problems


def latest_jobs(jobs: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The most recent lifecycle job per target object (lower-cased item name and item ID both key it)."""
    best: dict[str, Mapping[str, Any]] = {}
    for job in jobs:
        if job_action(job) is None:
            continue
        props = _props(job)
        started = str(props.get("startTime") or "")
        for key in (props.get("targetObjectName"), props.get("targetObjectId")):
            if not key:
                continue
            key = str(key).lower()
            if key not in best or str(_props(best[key]).get("startTime") or "") <= started:
                best[key] = job
    return best


# ---------------------------------------------------------------------------------------------------------------------
# What the writes send (REST-shaped: the SDK sends dict bodies verbatim)


@dataclass(frozen=True)
class EnableSpec:
    """Everything an InMageRcm enable needs for one server, resolved from the inventory, the
    business unit, the appliance's fabric and the cache-account choice."""

    machine_id: str  # the appliance's discovered machine (a Microsoft.OffAzure machine ID)
    process_server_id: str
    policy_id: str
    log_storage_account_id: str  # the cache account
    disk_type: str
    target_resource_group_id: str
    target_network_id: str
    target_subnet: str
    test_network_id: str
    test_subnet: str
    vm_name: str
    vm_size: str | None = None
    license_type: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


def enable_body(spec: EnableSpec) -> dict[str, Any]:
    """The PUT body of `replicationProtectedItems/{server}` for InMageRcm."""
    details: dict[str, Any] = {
        "instanceType": "InMageRcm",
        "fabricDiscoveryMachineId": spec.machine_id,
        "processServerId": spec.process_server_id,
        "disksDefault": {"logStorageAccountId": spec.log_storage_account_id, "diskType": spec.disk_type},
        "targetResourceGroupId": spec.target_resource_group_id,
        "targetNetworkId": spec.target_network_id,
        "targetSubnetName": spec.target_subnet,
        "testNetworkId": spec.test_network_id,
        "testSubnetName": spec.test_subnet,
        "targetVmName": spec.vm_name,
        "targetVmTags": [{"tagName": k, "tagValue": v} for k, v in spec.tags],
    }
    if spec.vm_size:
        details["targetVmSize"] = spec.vm_size
    if spec.license_type:
        details["licenseType"] = spec.license_type
    return {"properties": {"policyId": spec.policy_id, "providerSpecificDetails": details}}


def test_failover_body(test_network_id: str) -> dict[str, Any]:
    """Test failover into the isolated test network (never the production VNet)."""
    return {
        "properties": {
            "failoverDirection": "PrimaryToRecovery",
            "networkType": "VmNetworkAsInput",
            "networkId": test_network_id,
            "providerSpecificDetails": {"instanceType": "InMageRcm", "networkId": test_network_id},
        }
    }


def test_failover_cleanup_body(wave: str) -> dict[str, Any]:
    return {"properties": {"comments": f"plmigrate: test migration of {wave} validated; cleaning up"}}


def unplanned_failover_body() -> dict[str, Any]:
    """Cutover: fail over with the source shut down first (no writes lost on the source)."""
    return {
        "properties": {
            "failoverDirection": "PrimaryToRecovery",
            "sourceSiteOperations": "Required",
            "providerSpecificDetails": {"instanceType": "InMageRcm", "performShutdown": "true"},
        }
    }


def remove_body() -> dict[str, Any]:
    """Disable replication as a completed migration: the migrated VM is kept."""
    return {"properties": {"disableProtectionReason": "MigrationComplete"}}


def test_vm_name(vm_name: str) -> str:
    """The name Site Recovery gives a test failover's VM."""
    return f"{vm_name}-test"


# ---------------------------------------------------------------------------------------------------------------------
# Preflight: the vault's Site Recovery setup per appliance, what it discovered, the networks


def _stamp(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class ApplianceSite:
    """An appliance as the vault knows it: its fabric, container, process server and policy (or,
    in `problem` and `fix`, why its servers cannot be enabled)."""

    appliance: str
    fabric: str = ""
    container: str = ""
    process_server_id: str = ""
    policy_id: str = ""
    vmware_site_id: str = ""
    physical_site_id: str = ""
    agents: tuple[tuple[str, str], ...] = ()  # registered mobility agents: (biosId, name), lower-cased
    problem: str = ""
    fix: str = ""
    # The problem is fixed on the appliance by a person (registering it with the vault, its
    # process server), not in our files: a run that can pause waits for it (docs/lifecycle.md).
    on_appliance: bool = False

    def site_for(self, source_type: str) -> str:
        """The discovery site a server of this source type is found in (agent-based replication
        treats everything but VMware as physical)."""
        return self.vmware_site_id if source_type == "vmware" else self.physical_site_id


def resolve_appliance(
    setup: Mapping[str, list[Mapping[str, Any]]],
    appliance: str,
    vault_id: str,
    policy: str | None,
    now: dt.datetime,
    heartbeat_max_age: float,
) -> ApplianceSite:
    """Find the appliance's InMageRcm fabric (friendlyName = appliance name), its container, the
    policy that container is mapped to (or the named one), and check its process server is healthy
    with a recent heartbeat."""
    fabric = next(
        (
            f
            for f in setup.get("fabrics", [])
            if str(_props(f).get("friendlyName", "")).lower() == appliance.lower()
            and _key((_props(f).get("customDetails") or {}).get("instanceType")) == "inmagercm"
        ),
        None,
    )
    if fabric is None:
        return ApplianceSite(
            appliance,
            problem=f"appliance {appliance} is not registered with the vault",
            on_appliance=True,
            fix=(
                f"register it: on the appliance, use the vault's key file for {vault_id} (Azure Migrate > "
                "Discover > generate the key), now that its DNS checks pass; then re-run the wave"
            ),
        )
    details = _props(fabric).get("customDetails") or {}
    fabric_id = str(fabric.get("id", "")).lower()
    containers = [c for c in setup.get("containers", []) if str(c.get("id", "")).lower().startswith(fabric_id + "/")]
    if not containers:
        return ApplianceSite(
            appliance,
            fabric=fabric["name"],
            problem=f"appliance {appliance}'s fabric has no protection container",
            fix="finish the appliance's registration with the vault (it creates the container), then re-run",
            on_appliance=True,
        )
    container = containers[0]
    container_id = str(container.get("id", "")).lower()
    mapped = [
        str(_props(m).get("policyId") or "")
        for m in setup.get("mappings", [])
        if str(m.get("id", "")).lower().startswith(container_id + "/")
    ]
    policies = {str(p.get("name", "")).lower(): str(p.get("id", "")) for p in setup.get("policies", [])}
    site = ApplianceSite(
        appliance,
        fabric=fabric["name"],
        container=container["name"],
        vmware_site_id=str(details.get("vmwareSiteId") or ""),
        physical_site_id=str(details.get("physicalSiteId") or ""),
        agents=tuple(
            (str(a.get("biosId") or "").lower(), str(a.get("name") or "").lower())
            for a in details.get("replicationAgents") or []
        ),
    )
    if policy:
        policy_id = policies.get(policy.lower(), "")
        if not policy_id:
            known = ", ".join(sorted(policies)) or "none"
            return dataclasses.replace(
                site,
                problem=f"replication policy {policy} is not in the vault (policies: {known})",
                fix="correct migration.policy in the business-unit file, or leave it empty for the mapped one",
            )
        if mapped and policy_id.lower() not in {m.lower() for m in mapped}:
            return dataclasses.replace(
                site,
                problem=f"policy {policy} is not mapped to appliance {appliance}'s protection container",
                fix="map the policy to the container (Site Recovery infrastructure), or name the mapped policy",
            )
    elif len(mapped) == 1:
        policy_id = mapped[0]
    else:
        return dataclasses.replace(
            site,
            problem=(
                f"appliance {appliance}'s container is mapped to {len(mapped) or 'no'} "
                f"{'policy' if len(mapped) == 1 else 'policies'}"
            ),
            fix="name the policy under migration.policy in the business-unit file"
            if mapped
            else "map an InMageRcm replication policy to the container (appliance registration does), then re-run",
        )
    servers = details.get("processServers") or []
    if not servers:
        return dataclasses.replace(
            site,
            policy_id=policy_id,
            problem=f"appliance {appliance} has no process server",
            fix="check the appliance's services",
            on_appliance=True,
        )
    ps = servers[0]
    beat = _stamp(ps.get("lastHeartbeatUtc"))
    age = (now - beat).total_seconds() if beat else None
    site = dataclasses.replace(site, policy_id=policy_id, process_server_id=str(ps.get("id") or ""))
    if _key(ps.get("health")) not in ("normal", "") or ps.get("healthErrors"):
        errors = ps.get("healthErrors") or [{}]
        first = errors[0]
        message = first.get("summaryMessage") or first.get("errorMessage") or f"health {ps.get('health')}"
        return dataclasses.replace(
            site,
            problem=f"process server of appliance {appliance} is unhealthy: {first.get('errorCode', '')} {message}",
            fix=first.get("recommendedAction") or "check the appliance's connectivity to the vault's private endpoint",
            on_appliance=True,
        )
    if age is None or age > heartbeat_max_age:
        when = ps.get("lastHeartbeatUtc") or "never"
        return dataclasses.replace(
            site,
            problem=f"process server of appliance {appliance} last reported at {when}",
            fix="check that the appliance is running and reaches the vault over the private endpoint",
            on_appliance=True,
        )
    return site


def discovered_machine(
    server: str, source_type: str, site: ApplianceSite, machines: Iterable[Mapping[str, Any]]
) -> tuple[str | None, str, str]:
    """(machine ID, problem, fix): the machine the appliance discovered under the server's name, and
    whether its mobility agent is registered with the appliance."""
    found = [m for m in machines if str(_props(m).get("displayName", "")).lower() == server.lower()]
    if not found:
        return (
            None,
            f"not discovered by appliance {site.appliance} (no machine named {server})",
            "check the server's name in the inventory, or add its credentials/IP to the appliance's discovery",
        )
    if len(found) > 1:
        return (
            None,
            f"appliance {site.appliance} discovered {len(found)} machines named {server}",
            "remove the stale discovery, or rename so each server is found once",
        )
    machine = found[0]
    props = _props(machine)
    bios = str(props.get("biosId") or "").lower()
    registered = any((bios and bios == b) or n == server.lower() for b, n in site.agents)
    agent = props.get("mobilityAgent") or {}
    if not registered and not agent.get("installed"):
        return (
            str(machine["id"]),
            f"the mobility agent is not installed on {server} (or not registered with appliance {site.appliance})",
            "install the mobility service on the server and register it with the appliance, then re-run",
        )
    return str(machine["id"]), "", ""


def _peered(vnet: Mapping[str, Any] | None, other_id: str) -> bool:
    for peering in _props(vnet).get("virtualNetworkPeerings") or []:
        remote = ((peering.get("properties") or {}).get("remoteVirtualNetwork") or {}).get("id", "")
        if str(remote).lower() == other_id.lower():
            return True
    return False


def subnet_names(vnet: Mapping[str, Any] | None) -> set[str]:
    return {str(s.get("name", "")).lower() for s in _props(vnet).get("subnets") or []}


def test_network_problem(
    test_vnet_id: str,
    test_subnet: str,
    test_vnet: Mapping[str, Any] | None,
    target_vnets: Mapping[str, Mapping[str, Any] | None],
) -> tuple[str, str] | None:
    """Why a test network cannot take test migrations (missing, or peered to a target VNet), or None."""
    if test_vnet is None:
        return (
            f"test network {test_vnet_id} does not exist",
            "create the isolated test VNet (no peering to production), or correct migration.test_network",
        )
    if test_subnet.lower() not in subnet_names(test_vnet):
        return f"test subnet {test_subnet} is not in {test_vnet_id}", "create the subnet or correct its name"
    for target_id, target in target_vnets.items():
        if target_id.lower() == test_vnet_id.lower():
            return (
                f"the test network is the production VNet {target_id}",
                "give test migrations an isolated VNet: a test VM on a production network can rewrite AD DNS "
                "and break replication",
            )
        if _peered(test_vnet, target_id) or _peered(target, test_vnet_id):
            return (
                f"test network {test_vnet_id} is peered to target VNet {target_id}",
                "remove the peering or use an isolated VNet: a test VM on a connected network can rewrite AD DNS",
            )
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Cutover approval


def cutover_refusals(
    target: Stage,
    change: str | None,
    windows: Iterable[Window],
    now: dt.datetime,
    interactive: bool = False,
) -> list[str]:
    """Why a run to `target` may not start at `now`, as "what — fix" lines (empty: it may).
    `interactive`: the run can pause for approval in the UI, so a missing ticket is asked there."""
    if target not in CUTOVER_STAGES:
        return []
    problems = []
    if not change and not interactive:
        problems.append(f"--change: --to {target} is a cutover and needs an approved change ticket — pass --change ID")
    check = check_window(windows, now)
    if not check.inside:
        problems.append(f"cutover window: {check.describe()} — run then, or declare a window under migration.cutover")
    return problems


def cutover_answer(
    change_ticket: str, approver: str, servers: str, approve: bool, wave_servers: Iterable[str]
) -> tuple[CutoverEvidence, set[str]]:
    """The approver's answer to the cutover pause: the evidence and the servers approved ("all",
    empty, or names separated by commas, case-insensitive); refused, or without a ticket: none."""
    if not approve or not change_ticket.strip():
        refused = f"refused by {approver or 'the approver'}" if not approve else "no change ticket"
        return CutoverEvidence(approver=approver, refused=refused), set()
    evidence = CutoverEvidence(change=change_ticket.strip(), approver=approver.strip())
    chosen = set(wave_servers)
    if servers.strip().lower() not in ("", "all"):
        asked = {n.strip().lower() for n in servers.split(",") if n.strip()}
        chosen = {n for n in chosen if n.lower() in asked}
        evidence.servers = sorted(chosen)
    return evidence, chosen


def in_window(
    evidence: CutoverEvidence, chosen: set[str], windows: Iterable[Window], now: dt.datetime
) -> tuple[CutoverEvidence, set[str]]:
    """An approved cutover checked against the windows at `now` (the business unit's zone): the
    time and window go into the evidence; outside every window nothing is approved."""
    check = check_window(windows, now)
    evidence = evidence.model_copy(
        update={"approved_at": now.isoformat(timespec="seconds"), "window": check.describe()}
    )
    if not check.inside:
        evidence.refused = check.describe()
        return evidence, set()
    return evidence, chosen


def disk_type(replication_sku: str) -> str:
    """The managed disk type of a server's replica: Premium on a Premium replication account."""
    return "Premium_LRS" if replication_sku.startswith("Premium") else "Standard_LRS"


# ---------------------------------------------------------------------------------------------------------------------
# Putting one read together, and the report


def vm_id(resource_group_id: str, name: str) -> str:
    return f"{resource_group_id}/providers/Microsoft.Compute/virtualMachines/{name}"


def migrated_vms(vms: Iterable[Mapping[str, Any]], tags: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """IDs (lower-cased) of the VMs that carry this tool's tags (migrated by us), and of the others
    (namesakes that are not ours)."""
    ours, others = set(), set()
    for vm in vms:
        found = vm.get("tags") or {}
        mine = all(found.get(k) == v for k, v in tags.items())
        (ours if mine else others).add(str(vm.get("id", "")).lower())
    return ours, others


def job_for(
    jobs: Mapping[str, Mapping[str, Any]], server: str, item: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The latest job (of `latest_jobs`) about a server's item, by item ID, item name or server name."""
    for key in (str((item or {}).get("id", "")), str((item or {}).get("name", "")), server):
        if key and key.lower() in jobs:
            return jobs[key.lower()]
    return None


def with_issued(position: Position, action: Action, job: str | None) -> Position:
    """A write this run issued whose job Azure does not show yet (neither on the item nor as
    failed) and whose effect is not visible: still running, so it is followed, never re-issued."""
    if position.running or position.stage == "blocked" or rank(position.stage) > rank(BEFORE[action]):
        return position
    if action == "commit" and not position.commit_pending:
        return position
    return dataclasses.replace(position, running=action, running_job=job, reason=f"{VERB[action]} issued")


class ServerStage(BaseModel):
    """One server's stage as `plmigrate status`/`wave --json` print it."""

    server: str
    stage: Stage
    reason: str
    fix: str = ""
    progress: float | None = None
    health: str = ""
    item_id: str | None = None
    test_vm_id: str | None = None
    vm_id: str | None = None


def server_stage(
    server: str, position: Position, item: Mapping[str, Any] | None, resource_group_id: str
) -> ServerStage:
    effective = position.effective_stage
    test_vm = vm_id(resource_group_id, test_vm_name(server)) if effective == "test-migrated" else None
    vm = vm_id(resource_group_id, server) if rank(effective) >= rank("migrated") or position.commit_pending else None
    return ServerStage(
        server=server,
        stage=position.stage,
        reason=position.reason,
        fix=position.fix,
        progress=position.progress,
        health=position.health,
        item_id=str(item["id"]) if item else None,
        test_vm_id=test_vm,
        vm_id=vm,
    )


class CutoverEvidence(BaseModel):
    """Who approved the cutover, under which change, when and inside which window: the audit trail."""

    change: str = ""
    approver: str = ""
    approved_at: str = ""
    window: str = ""
    servers: list[str] = PydField(default_factory=list, description="Servers approved for cutover (empty: all).")
    refused: str = ""  # why cutover did not run, if it did not
    cut_over: list[str] = PydField(default_factory=list, description="Servers a cutover write was issued for.")


class LifecycleReport(BaseModel):
    business_unit: str
    wave: str
    to: Stage
    dry_run: bool = False
    # Rows, not a list: the wave's flow returns this report, and Prefect walks into a list per
    # server (plmigrate.report.Rows).
    servers: Rows[ServerStage] = PydField(default_factory=Rows)
    writes: int = 0
    would: dict[str, int] = PydField(default_factory=dict, description="Dry run: writes per action it would issue.")
    cycles: int = 0
    reads_per_cycle: int = 0
    arrived: int = PydField(default=0, description="Servers at or past the target with nothing still running.")
    held: int = PydField(
        default=0,
        description="Servers short of the target a preflight problem holds back (status: as a run to the end would).",
    )
    cutover: CutoverEvidence | None = None

    @property
    def counts(self) -> dict[str, int]:
        tally = {stage: 0 for stage in STAGES}
        for server in self.servers:
            tally[server.stage] += 1
        return tally

    def all_reached(self) -> bool:
        return self.arrived == len(self.servers)

    def as_json(self) -> dict[str, Any]:
        """The one object `--json` prints: servers and counts by stage (and the run's figures)."""
        body = self.model_dump(mode="json")
        body["counts"] = self.counts
        return body


def render_lifecycle_markdown(report: LifecycleReport, shown: int = 50) -> str:
    counts = ", ".join(f"{n} {stage}" for stage, n in report.counts.items() if n)
    lines = [
        f"# Wave {report.wave} of {report.business_unit}: to {report.to}" + (" (dry run)" if report.dry_run else ""),
        "",
        f"**{len(report.servers)} servers: {counts or 'none'}.** Writes issued: {report.writes}.",
    ]
    if report.would:
        lines += ["", "Would issue: " + ", ".join(f"{action}: {n}" for action, n in sorted(report.would.items()))]
    if report.cutover:
        c = report.cutover
        lines += ["", "## Cutover", ""]
        if c.refused:
            lines.append(f"Not run: {c.refused}")
        else:
            lines += [
                f"- change: **{c.change}**, approved by **{c.approver}** at {c.approved_at}",
                f"- window: {c.window}",
                f"- servers cut over this run: {', '.join(c.cut_over) or 'none'}",
            ]
    lines += ["", "| server | stage | progress | health | reason | fix |", "| --- | --- | --- | --- | --- | --- |"]
    for s in report.servers[:shown]:
        progress = f"{s.progress:g}%" if s.progress is not None else ""
        lines.append(f"| {s.server} | {s.stage} | {progress} | {s.health} | {s.reason} | {s.fix} |")
    if len(report.servers) > shown:
        lines.append(f"| … | {len(report.servers) - shown} more in the servers table | | | | |")
    return "\n".join(lines) + "\n"


def stage_rows(servers: Iterable[ServerStage]) -> list[dict[str, str]]:
    """The servers table: stage, progress, health, reason and fix per server."""
    return [
        {
            "server": s.server,
            "stage": s.stage,
            "progress": f"{s.progress:g}%" if s.progress is not None else "",
            "health": s.health,
            "reason": s.reason,
            "fix": s.fix,
        }
        for s in servers
    ]


# ---------------------------------------------------------------------------------------------------------------------
# The run's decisions on what its tasks read: the preflight's verdicts, each cycle's positions,
# which writes are due, how long each wait may last, and the report's rows

Problem = tuple[str, str]  # (reason, fix)
CUTOVER_ACTIONS: frozenset[Action] = frozenset({"unplanned_failover", "commit", "remove"})
# The writes each kind of preflight problem holds back. An appliance or discovery problem (and a
# readiness problem) holds every write. A target resource group, VNet or subnet that cannot take
# the server holds the writes that place something there: the enable (its body names them), the
# test failover (the test VM goes to the target resource group) and the cutover's failover; the
# cleanup, commit and removal need none of them. A test network problem holds the enable (its body
# names the test network) and the test failover only: a cutover never uses the test network, which
# is often removed once the tests are done.
ALL_ACTIONS: frozenset[Action] = frozenset(get_args(Action))
TARGET_ACTIONS: frozenset[Action] = frozenset({"enable", "test_failover", "unplanned_failover"})
TEST_ACTIONS: frozenset[Action] = frozenset({"enable", "test_failover"})


def identify_machines(
    servers: Iterable[Server],
    sites: Mapping[str, ApplianceSite],
    machines: Mapping[str, Sequence[Mapping[str, Any]]],
    known: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, Problem]]:
    """Each server's discovered machine ID (what items are also matched by), from the machines its
    appliance's discovery site lists (`machines`: site ID -> machines); and the servers held back
    with (reason, fix): their appliance has a problem, or discovered them none or several times, or
    without the mobility agent. `known`: servers whose protected item stands for their discovery
    (server -> the machine ID the item names; `status` reads no discovery for them): only their
    appliance is judged."""
    machine_ids: dict[str, str] = {}
    held: dict[str, Problem] = {}
    known = known or {}
    for server in servers:
        site = sites[server.appliance]
        if site.problem:
            held[server.name] = (site.problem, site.fix)
            continue
        if server.name in known:  # its item stands for its discovery ("": the item names no machine)
            if known[server.name]:
                machine_ids[server.name] = known[server.name]
            continue
        listed = machines.get(site.site_for(server.source_type), [])
        machine, problem, fix = discovered_machine(server.name, server.source_type, site, listed)
        if machine:
            machine_ids[server.name] = machine
        if problem:
            held[server.name] = (problem, fix)
    return machine_ids, held


def target_problem(
    server: Server, subscription_id: str, group_exists: bool, candidates: Sequence[Mapping[str, Any]]
) -> Problem | None:
    """Why a server's target resource group, VNet (`candidates`: the subscription's VNets of that
    name) or subnet cannot take it, or None."""
    if not group_exists:
        return (
            f"target resource group {server.target_resource_group} does not exist",
            "create it, or correct target_resource_group in the inventory",
        )
    if not candidates:
        return (
            f"target VNet {server.target_vnet} is not in subscription {subscription_id}",
            "create it, or correct target_vnet",
        )
    if len(candidates) > 1:
        where = ", ".join(sorted(str(c["id"]).split("/resourceGroups/")[1].split("/")[0] for c in candidates))
        return (
            f"{len(candidates)} VNets are named {server.target_vnet} (resource groups {where})",
            "rename one, so each target VNet name is unique in the subscription",
        )
    if server.target_subnet.lower() not in subnet_names(candidates[0]):
        return (
            f"target subnet {server.target_subnet} is not in {candidates[0]['id']}",
            "create the subnet, or correct target_subnet",
        )
    return None


@dataclass(frozen=True)
class Verdicts:
    """The preflight's answer: each server's discovered machine and target VNet ID, and the servers
    held back from new writes with (reason, fix)."""

    machine_ids: dict[str, str]
    vnet_ids: dict[str, str]
    held: dict[str, Problem]
    blocks: dict[str, frozenset[Action]] = field(default_factory=dict)  # held server -> the writes held back


def judge_preflight(
    servers: Sequence[Server],
    subscription_id: str,
    sites: Mapping[str, ApplianceSite],
    machines: Mapping[str, Sequence[Mapping[str, Any]]],
    groups: Mapping[str, bool],
    vnets: Mapping[str, Mapping[str, Any]],
    tests: Mapping[str, tuple[str, str]],
    needs_test: bool,
    known_machines: Mapping[str, str] | None = None,
) -> Verdicts:
    """Every preflight problem at once, each holding only the servers it concerns: the appliance,
    the discovery, the target resource group, VNet and subnet, then (`needs_test`) the test network.
    `groups`: resource group name -> exists; `vnets`: lower-cased VNet ID -> VNet, the subscription's
    and the test networks read by ID; `tests`: server -> (test VNet ID, test subnet);
    `known_machines`: as `identify_machines`' `known` (what `status` passes)."""
    machine_ids, held = identify_machines(servers, sites, machines, known_machines)
    blocks = dict.fromkeys(held, ALL_ACTIONS)
    ours = f"/subscriptions/{subscription_id}/".lower()
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for vid, vnet in vnets.items():
        if vid.startswith(ours):  # a test network of another subscription is no target
            by_name.setdefault(str(vnet["name"]).lower(), []).append(vnet)
    vnet_ids = {
        s.name: str(found[0]["id"]) for s in servers if len(found := by_name.get(s.target_vnet.lower(), [])) == 1
    }
    targets = {vid: vnets.get(vid.lower()) for vid in set(vnet_ids.values())}
    for server in servers:
        if server.name in held:
            continue
        problem = target_problem(
            server, subscription_id, groups.get(server.target_resource_group, False),
            by_name.get(server.target_vnet.lower(), []),
        )  # fmt: skip
        if problem:
            held[server.name], blocks[server.name] = problem, TARGET_ACTIONS
        elif needs_test:
            test_id, test_subnet = tests[server.name]
            problem = test_network_problem(test_id, test_subnet, vnets.get(test_id.lower()), targets)
            if problem:
                held[server.name], blocks[server.name] = problem, TEST_ACTIONS
    return Verdicts(machine_ids, vnet_ids, held, blocks)


def appliances_awaited(sites: Mapping[str, ApplianceSite], held: Mapping[str, Problem]) -> list[ApplianceSite]:
    """The appliances a person must fix on the appliance (register, mend its process server) before
    their held servers can go on: what a run that can pause waits for."""
    reasons = {reason for reason, _ in held.values()}
    return [site for _, site in sorted(sites.items()) if site.on_appliance and site.problem in reasons]


@dataclass(frozen=True)
class Reading:
    """One cycle's reading of the wave: each server's item, the servers replicated twice, and
    where each server stands."""

    items: dict[str, Mapping[str, Any]]
    duplicates: dict[str, str]
    positions: dict[str, Position]


def read_positions(
    servers: Sequence[str],
    machine_ids: Mapping[str, str],
    resource_groups: Mapping[str, str],
    items: Iterable[Mapping[str, Any]],
    failed_jobs: Iterable[Mapping[str, Any]],
    vms: Iterable[Mapping[str, Any]],
    tags: Mapping[str, str],
    held: Mapping[str, Problem] | None = None,
    refused: Mapping[str, Problem] | None = None,
    issued: Mapping[str, tuple[Action, str | None]] | None = None,
) -> Reading:
    """Where every server stands, from one read of its containers, failed jobs and VMs (the same for
    `plmigrate status` and each cycle of a run). `resource_groups`: server -> target resource group
    ID. A run adds what it knows beyond Azure: writes it issued whose jobs Azure does not show yet
    (`issued`: followed, never issued twice), writes ARM refused (`refused`) and servers the
    preflight held (`held`: blocked while they have no item)."""
    found, duplicates = match_items(servers, machine_ids, items)
    failed = latest_jobs(failed_jobs)
    ours, others = migrated_vms(vms, tags)
    held, refused, issued = held or {}, refused or {}, issued or {}
    positions: dict[str, Position] = {}
    for name in servers:
        item = found.get(name)
        vm = vm_id(resource_groups[name], name).lower()
        position = stage_of(item, job_for(failed, name, item), vm in ours, vm in others)
        if name in issued:
            position = with_issued(position, *issued[name])
        if name in duplicates:
            position = Position("blocked", duplicates[name], "remove the extra protected item (keep one)")
        elif name in refused:
            position = Position("blocked", *refused[name], resume=position.effective_stage)
        elif name in held and item is None and rank(position.effective_stage) <= rank("ready"):
            position = Position("blocked", *held[name], resume="ready")
        positions[name] = position
    return Reading(found, duplicates, positions)


def unmatched(servers: Iterable[str], machine_ids: Mapping[str, str], items: Iterable[Mapping[str, Any]]) -> list[str]:
    """The servers no item matches (by name, or by the machine IDs known): where a migrated VM may
    stand alone, and the only servers whose discovered machine is worth reading."""
    found, duplicates = match_items(list(servers), machine_ids, items)
    return [name for name in servers if name not in found and name not in duplicates]


def due_writes(
    decisions: Mapping[str, Next], blocks: Mapping[str, Collection[Action]], duplicates: Mapping[str, str]
) -> dict[str, Action]:
    """The writes due this cycle: every `act` decision, except the writes a preflight problem holds
    back (`blocks`: server -> those writes, `Verdicts.blocks`) and any for a server with a second
    item (their stage is still read and shown)."""
    return {
        name: d.action
        for name, d in decisions.items()
        if d.kind == "act" and d.action and d.action not in blocks.get(name, ()) and name not in duplicates
    }


def writes_ahead(position: Position, target: Stage) -> frozenset[Action]:
    """The writes still ahead of a server on its way from where it stands to `target`."""
    # `replicated` is entered by Azure (initial replication after the enable), not by a write.
    ahead = {ENTERED_BY[s] for s in stages_between(position.effective_stage, target) if s != "replicated"}
    if position.commit_pending:  # failed over already (it reads as `tested` until committed)
        ahead.discard("unplanned_failover")
        if rank(target) >= rank("migrated"):
            ahead.add("commit")
    if position.cleanup_due:
        ahead.add("test_failover_cleanup")
    return frozenset(ahead)


def holding(
    positions: Mapping[str, Position],
    held: Mapping[str, Problem],
    blocks: Mapping[str, Collection[Action]],
    target: Stage,
) -> dict[str, Problem]:
    """The preflight problems that stand between a server and `target`: those holding back a write
    still ahead of it (a tested server is not held from its cutover by a test network that is gone;
    a replicating one is held from its test failover by a target subnet that is gone)."""
    return {
        name: held[name]
        for name, position in positions.items()
        if name in held
        and not reached(position, target)
        and writes_ahead(position, target) & frozenset(blocks.get(name, ALL_ACTIONS))
    }


def gate_cutover(
    due: Mapping[str, Action], approved: set[str], window: WindowCheck
) -> tuple[dict[str, Action], set[str], str]:
    """The due writes that may go out now: a cutover write only for an approved server, inside a
    window (checked before every cutover batch). Returns (writes, servers still approved, why the
    cutover stopped now: '' when it did not)."""
    why = ""
    if not window.inside and approved:
        approved, why = set(), f"the cutover window closed during the run: {window.describe()}"
    return {n: a for n, a in due.items() if a not in CUTOVER_ACTIONS or n in approved}, approved, why


def track_waits(
    began: Mapping[str, tuple[str, float]],
    decisions: Mapping[str, Next],
    positions: Mapping[str, Position],
    moving: set[str],
    now: float,
    timeout_of: Callable[[str], float],
) -> tuple[dict[str, tuple[str, float]], bool]:
    """When each server's current wait began (by wait kind: a new kind starts a new wait), and
    whether anybody is still within the business unit's timeout of that kind (the run goes on
    reading). `moving`: servers a write was just issued or retried for (they wait too)."""
    waits: dict[str, tuple[str, float]] = {}
    within = False
    for name, decision in decisions.items():
        if decision.kind != "wait" and name not in moving:
            continue
        kind = wait_kind(positions[name])
        start = began.get(name)
        waits[name] = start if start is not None and start[0] == kind else (kind, now)
        if now - waits[name][1] < timeout_of(kind):
            within = True
    return waits, within


def report_rows(
    reading: Reading,
    decisions: Mapping[str, Next],
    held: Mapping[str, Problem],
    resource_groups: Mapping[str, str],
    target: Stage,
) -> list[ServerStage]:
    """The report's row per server, saying beside its stage why it did not arrive: held by the
    preflight, stuck (needing a person), or still on its way when its wait timed out."""
    rows = []
    for name, position in reading.positions.items():
        row = server_stage(name, position, reading.items.get(name), resource_groups[name])
        decision = decisions[name]
        if not reached(position, target) and not _held_row(row, held.get(name)):
            if decision.kind == "stuck" and row.stage != "blocked" and decision.reason not in row.reason:
                row.reason = f"{row.reason}; {decision.reason}"
            elif decision.kind == "wait":
                row.reason = f"{row.reason} (still on its way at the timeout; a re-run picks it up)"
        rows.append(row)
    return rows


def _held_row(row: ServerStage, problem: Problem | None) -> bool:
    """Say beside a row's stage the preflight problem that holds it (a blocked row says it already)."""
    if problem is None or row.stage == "blocked":
        return False
    row.reason, row.fix = f"{row.reason}; held: {problem[0]}", problem[1]
    return True


def status_rows(
    reading: Reading, holds: Mapping[str, Problem], resource_groups: Mapping[str, str]
) -> list[ServerStage]:
    """`plmigrate status`'s row per server: its stage, and beside it what the preflight of a run
    to the end would hold it for (`holds`: `holding(..., "completed")`), as that run's report says it."""
    rows = []
    for name, position in reading.positions.items():
        row = server_stage(name, position, reading.items.get(name), resource_groups[name])
        _held_row(row, holds.get(name))
        rows.append(row)
    return rows


def registration_step(site: ApplianceSite, vault_id: str, sandbox_info: str | None = None) -> str:
    """The exact step a person takes for an appliance a run waits for: registering it with the
    vault (on the sandbox, plmigrate's own stand-in for the appliance's setup), or the fix of its
    process server."""
    unregistered = not site.fabric or not site.container
    if unregistered and sandbox_info:
        return f"plmigrate sandbox register-appliance --info {sandbox_info} --vault {vault_id} {site.appliance}"
    return site.fix


def appliance_wait_markdown(
    wave: str,
    vault_id: str,
    sites: Iterable[ApplianceSite],
    held: Mapping[str, Problem],
    timeout_seconds: float,
    sandbox_info: str | None = None,
) -> str:
    """What the paused run shows: each appliance awaited, the vault, the step, the servers it holds."""
    lines = [f"# {wave}: waiting for appliances", "", f"Vault: `{vault_id}`", ""]
    for site in sites:
        servers = sorted(name for name, (reason, _) in held.items() if reason == site.problem)
        shown = ", ".join(servers[:20]) + ("…" if len(servers) > 20 else "")
        lines += [
            f"## {site.appliance}",
            "",
            f"- problem: {site.problem}",
            f"- step: `{registration_step(site, vault_id, sandbox_info)}`",
            f"- holds {len(servers)} servers: {shown}",
            "",
        ]
    lines.append(
        f"Resume this run once done: it reads the vault again (waiting up to {timeout_seconds:g} s in all). "
        "Untick `retry` to go on without: those servers stay blocked with the fix."
    )
    return "\n".join(lines) + "\n"


def item_machines(servers: Iterable[str], items: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The discovered machine each server's namesake item replicates (`fabricDiscoveryMachineId`):
    what a second item of the same machine is found by, without reading the appliance's discovery."""
    named = {str(i.get("name", "")).lower(): i for i in items}
    found = {}
    for server in servers:
        item = named.get(server.lower())
        machine = (_props(item).get("providerSpecificDetails") or {}).get("fabricDiscoveryMachineId") if item else None
        if machine:
            found[server] = str(machine)
    return found


def stage_counts(positions: Iterable[Position]) -> dict[str, int]:
    """Servers per stage, in the stages' order with `blocked` last (what the progress line shows)."""
    tally = dict.fromkeys((*ORDER, "blocked"), 0)
    for position in positions:
        tally[position.stage] += 1
    return tally
