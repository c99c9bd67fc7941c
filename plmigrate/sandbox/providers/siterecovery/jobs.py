"""Site Recovery jobs: one per write, run in Site Recovery's scaled time, settled when read.

A job is stored as ARM shows it (`{vault}/replicationJobs/{name}`); its hidden timeline lives in
`world.meta_of(job_id)`: `kind`, `item_id`, `start`, `end`, `failure` (decided up front for an
injected fault), `applied`. Reading a job (or the item it works on) after its end settles it once:
the item's `FINISHERS[kind]` applies the outcome and may report a `Problem`, which fails the job
with `errors[]` (service error: code, message, possible causes, recommended action) and marks the
task that failed. The job's name is the last segment of the write's `Azure-AsyncOperation` URL.

A vault may hold tens of thousands of jobs, so an index per world (rebuilt from the stored jobs when
missing, e.g. after a restore) keeps each vault's jobs in start order, its unfinished jobs by end
time and its jobs by state: the jobs list settles only the jobs whose time has come and filters only
the jobs a `startTime`/`endTime`/`jobStatus` clause can match.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, bad_request, not_found
from plmigrate.sandbox.providers.siterecovery import clock
from plmigrate.sandbox.providers.siterecovery.errors import Problem
from plmigrate.sandbox.world import World, key

JOB_TYPE = "Microsoft.RecoveryServices/vaults/replicationJobs"

# kind -> (scenarioName, friendlyName, duration name in the scenario, tasks, index of the task a
# precondition failure fails in)
KINDS: dict[str, tuple[str, str, str, list[str], int]] = {
    "enable": (
        "EnableDr",
        "Enable replication",
        "enable",
        [
            "Prerequisites check for enabling protection",
            "Identifying the replication target",
            "Enable replication",
            "Starting initial replication",
            "Updating the provider states",
        ],
        0,
    ),
    "test_failover": (
        "TestFailover",
        "Test failover",
        "test_failover",
        ["Prerequisites check for test failover", "Create test virtual machine", "Start the virtual machine"],
        0,
    ),
    "test_cleanup": (
        "TestFailoverCleanup",
        "Test failover cleanup",
        "test_failover_cleanup",
        ["Delete the test virtual machine", "Updating the provider states"],
        0,
    ),
    "failover": (
        "UnplannedFailover",
        "Failover",
        "failover",
        [
            "Prerequisites check for failover",
            "Shut down the source machine",
            "Create the virtual machine",
            "Start the virtual machine",
        ],
        0,
    ),
    "commit": ("CommitFailover", "Commit", "commit", ["Prerequisite check", "Commit the failover"], 0),
    "disable": (
        "DisableDr",
        "Disable replication",
        "disable",
        ["Disable replication", "Clean up the replication data", "Updating the provider states"],
        0,
    ),
    "purge": ("PurgeProtection", "Purge replication", "disable", ["Purge the replicated item"], 0),
    "update": ("UpdateVmProperties", "Update the virtual machine", "update", ["Update the VM properties"], 0),
    "repair": (
        "RepairReplication",
        "Resynchronize",
        "repair",
        ["Prerequisite check", "Resynchronize the replication"],
        0,
    ),
}

# kind -> applies a finished job's outcome; returns the Problem that fails the job, or None.
FINISHERS: dict[str, Callable[[World, dict[str, Any]], Problem | None]] = {}


def job_id(vault_id: str, name: str) -> str:
    return f"{vault_id}/replicationJobs/{name}"


@dataclass
class _VaultJobs:
    started: list[tuple[float, str]] = field(default_factory=list)  # (start, job key), in start order
    start_of: dict[str, float] = field(default_factory=dict)  # job key -> start
    due: list[tuple[float, str]] = field(default_factory=list)  # heap of (end, job key) not yet applied
    by_state: dict[str, set[str]] = field(default_factory=dict)  # state (lower case) -> job keys


_INDEX: weakref.WeakKeyDictionary[World, dict[str, _VaultJobs]] = weakref.WeakKeyDictionary()


def _vault_key(jid: str) -> str:
    return key(jid).rsplit("/replicationjobs/", 1)[0]


def _index(world: World) -> dict[str, _VaultJobs]:
    """The world's job index, built from the stored jobs the first time it is needed."""
    found = _INDEX.get(world)
    if found is None:
        found = {}
        for k in world.type_keys(JOB_TYPE):
            meta = world.meta.get(k) or {}
            _add(found, k, float(meta.get("start", 0.0)), float(meta.get("end", 0.0)), bool(meta.get("applied")))
            found[_vault_key(k)].by_state.setdefault(world.resources[k]["properties"]["state"].lower(), set()).add(k)
        _INDEX[world] = found
    return found


def _add(index: dict[str, _VaultJobs], k: str, start: float, end: float, applied: bool) -> None:
    jobs = index.setdefault(_vault_key(k), _VaultJobs())
    bisect.insort(jobs.started, (start, k))
    jobs.start_of[k] = start
    if not applied:
        heapq.heappush(jobs.due, (end, k))


def _state_changed(world: World, k: str, before: str, after: str) -> None:
    states = _index(world).setdefault(_vault_key(k), _VaultJobs()).by_state
    states.get(before.lower(), set()).discard(k)
    states.setdefault(after.lower(), set()).add(k)


def start(
    world: World,
    vault_id: str,
    kind: str,
    *,
    item_id: str,
    item_name: str,
    instance_type: str,
    extra_seconds: float = 0.0,
    failure: Problem | None = None,
    data: dict[str, Any] | None = None,
    affected: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Record a new job on an item; returns the stored job. `affected`: the objects Site Recovery
    names in `customDetails.affectedObjectDetails` (primary cloud, VM, fabric; recovery side)."""
    scenario, friendly, duration, _, _ = KINDS[kind]
    name = str(uuid.uuid4())
    began = clock.now(world)
    ends = began + clock.duration(world, duration) + extra_seconds
    body = {
        "id": job_id(vault_id, name),
        "name": name,
        "type": JOB_TYPE,
        "properties": {
            "activityId": f"{uuid.uuid4()} ActivityId: {uuid.uuid4()}",
            "scenarioName": scenario,
            "friendlyName": friendly,
            "state": "InProgress",
            "stateDescription": "InProgress",
            "tasks": [],
            "errors": [],
            "startTime": clock.stamp(began),
            "endTime": None,
            "allowedActions": ["Cancel"],
            "targetObjectId": item_id.rsplit("/", 1)[-1],
            "targetObjectName": item_name,
            "targetInstanceType": "ProtectionEntity",
            "customDetails": {
                "instanceType": "AsrJobDetails",
                "affectedObjectDetails": {
                    **(affected or {}),
                    "ProtectedItemId": item_id,
                    "ReplicationProvider": instance_type,
                },
            },
        },
    }
    with world.lock:
        index = _index(world)
        stored = world.put(body)
        world.meta_of(stored["id"]).update(
            {
                "kind": kind,
                "item_id": item_id,
                "start": began,
                "end": ends,
                "failure": failure.as_dict() if failure else None,
                "applied": False,
                "data": data or {},
            }
        )
        k = key(stored["id"])
        _add(index, k, began, ends, False)
        index[_vault_key(k)].by_state.setdefault("inprogress", set()).add(k)
    return stored


def settle(world: World, jid: str) -> None:
    """Finish a job whose time has come: apply its outcome once."""
    with world.lock:
        meta = world.meta_of(jid)
        if not meta or meta.get("applied") or clock.now(world) < meta["end"]:
            return
        job = world.get(jid)
        if job is None:
            return
        meta["applied"] = True
        problem = Problem.from_dict(meta["failure"]) if meta.get("failure") else None
        finisher = FINISHERS.get(meta["kind"])
        if finisher is not None:
            outcome = finisher(world, {**meta, "job_id": jid, "failure": problem})
            problem = problem or outcome
        meta["outcome"] = problem.as_dict() if problem else None
        props = job["properties"]
        before = props["state"]
        props["state"] = "Failed" if problem else "Succeeded"
        props["stateDescription"] = "Failed" if problem else "Completed"
        props["endTime"] = clock.stamp(meta["end"])
        props["allowedActions"] = ["Restart"] if problem else []
        world.put(job)
        _state_changed(world, key(jid), before, props["state"])


def cancel(world: World, jid: str) -> None:
    """End a running job now, Cancelled (its finisher never runs)."""
    with world.lock:
        meta = world.meta_of(jid)
        job = world.require(jid)
        before = job["properties"]["state"]
        meta.update({"applied": True, "outcome": None, "cancelled": True, "end": clock.now(world)})
        job["properties"].update(
            {
                "state": "Cancelled",
                "stateDescription": "Cancelled",
                "endTime": clock.stamp(meta["end"]),
                "allowedActions": ["Restart"],
            }
        )
        world.put(job)
        _state_changed(world, key(jid), before, "Cancelled")


def view(world: World, job: dict[str, Any]) -> dict[str, Any]:
    """The job as a GET shows it: settled, with its tasks' states at this moment."""
    settle(world, job["id"])
    job = world.get(job["id"]) or job
    meta = world.meta_of(job["id"])
    if not meta:
        return job
    _, _, _, names, failing_task = KINDS[meta["kind"]]
    now = clock.now(world)
    span = max(meta["end"] - meta["start"], 1e-6)
    outcome = Problem.from_dict(meta["outcome"]) if meta.get("outcome") else None
    tasks = []
    for i, name in enumerate(names):
        t0 = meta["start"] + span * i / len(names)
        t1 = meta["start"] + span * (i + 1) / len(names)
        task_errors: list[dict[str, Any]] = []
        if meta.get("cancelled"):
            state = "Succeeded" if now >= t1 else "Cancelled"
        elif meta.get("applied") and outcome is not None:
            state = "Succeeded" if i < failing_task else "Failed" if i == failing_task else "Skipped"
            if i == failing_task:
                task_errors = [_error(outcome, meta["end"], f"task-{i}")]
        elif meta.get("applied"):
            state = "Succeeded"
        else:
            state = "Succeeded" if now >= t1 else "InProgress" if now >= t0 else "NotStarted"
        tasks.append(
            {
                "taskId": f"{job['name']}-task-{i}",
                "name": re.sub(r"\W", "", name.title()) + "Task",
                "friendlyName": name,
                "state": state,
                "stateDescription": {"Succeeded": "Completed"}.get(state, state),
                "startTime": clock.stamp(t0) if state != "NotStarted" else None,
                "endTime": clock.stamp(t1) if state in {"Succeeded", "Failed"} else None,
                "allowedActions": [],
                "taskType": "TaskDetails",
                "customDetails": {"instanceType": "TaskDetails"},
                "errors": task_errors,
            }
        )
    job["properties"]["tasks"] = tasks
    job["properties"]["errors"] = [_error(outcome, meta["end"], f"task-{failing_task}")] if outcome else []
    return job


def _error(problem: Problem, when: float, task: str) -> dict[str, Any]:
    return {
        "serviceErrorDetails": {
            "code": problem.code,
            "message": problem.message,
            "possibleCauses": problem.possible_causes,
            "recommendedAction": problem.recommended_action,
            "activityId": str(uuid.uuid5(uuid.NAMESPACE_URL, problem.message)),
        },
        "providerErrorDetails": None,
        "errorLevel": "Error",
        "creationTime": clock.stamp(when),
        "taskId": task,
    }


def running(world: World, jid: str | None) -> bool:
    if not jid:
        return False
    settle(world, jid)
    meta = world.meta_of(jid)
    return bool(meta) and not meta.get("applied")


# -- list with $filter --------------------------------------------------------------------------
_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ge|le|gt|lt)\s+'?([^']*)'?\s*$", re.IGNORECASE)


def _parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise bad_request("InvalidFilter", f"'{text}' is not a valid time in the $filter.") from None


def settle_due(world: World, vault_id: str) -> None:
    """Settle every job of the vault whose end has come, in end order (each once)."""
    with world.lock:
        jobs = _index(world).get(key(vault_id))
        if jobs is None:
            return
        now = clock.now(world)
        while jobs.due and jobs.due[0][0] <= now:
            _, k = heapq.heappop(jobs.due)
            meta = world.meta.get(k)
            if meta and not meta.get("applied") and k in world.resources:
                if float(meta["end"]) > now:  # not this entry's time after all: keep it queued
                    heapq.heappush(jobs.due, (float(meta["end"]), k))
                    break
                settle(world, k)


def candidates(world: World, vault_id: str, filter_text: str | None) -> list[str] | None:
    """The keys of the vault's jobs a filter can match, narrowed by its `startTime`/`endTime` bounds
    and `jobStatus`; None when the filter does not parse (the caller then checks every job, so a bad
    clause is refused exactly as `matches` refuses it)."""
    low, high, status = -math.inf, math.inf, None
    for clause in re.split(r"\s+and\s+", filter_text.strip(), flags=re.IGNORECASE) if filter_text else []:
        found = _CLAUSE.match(clause)
        if not found:
            return None
        name, value = found.group(1).lower(), found.group(3)
        if name in {"starttime", "endtime"}:
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
            low, high = (max(low, when), high) if name == "starttime" else (low, min(high, when))
        elif name == "jobstatus":
            status = value.lower()
        elif name not in {"jobname", "affectedobjecttypes", "fabricid"}:
            return None
    with world.lock:
        jobs = _index(world).get(key(vault_id))
        if jobs is None:
            return []
        if status is not None:  # usually the narrower: the failed jobs of a run
            keys = [k for k in jobs.by_state.get(status, ()) if low <= jobs.start_of.get(k, 0.0) <= high]
        else:
            window = jobs.started[bisect.bisect_left(jobs.started, (low, "")) :]
            keys = [k for began, k in window if began <= high]
        return [k for k in keys if k in world.resources]


def matches(world: World, job: dict[str, Any], filter_text: str | None) -> bool:
    """ASR's job query: `startTime` and `endTime` bound the job's start (whatever the operator, as
    Site Recovery reads them), `jobStatus`, `jobName` (scenario), `affectedObjectTypes`, `fabricId`."""
    if not filter_text:
        return True
    meta = world.meta_of(job["id"])
    props = job["properties"]
    for clause in re.split(r"\s+and\s+", filter_text.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(clause)
        if not found:
            raise bad_request("InvalidFilter", f"The $filter clause '{clause}' is not supported.")
        field, _, value = found.group(1).lower(), found.group(2), found.group(3)
        began = float(meta.get("start", 0.0))
        if field == "starttime":
            if began < _parse_time(value):
                return False
        elif field == "endtime":
            if began > _parse_time(value):
                return False
        elif field == "jobstatus":
            if props["state"].lower() != value.lower():
                return False
        elif field == "jobname":
            if props["scenarioName"].lower() != value.lower():
                return False
        elif field == "affectedobjecttypes":
            if value and props.get("targetInstanceType", "").lower() != value.lower():
                return False
        elif field == "fabricid":
            if value and value.lower() not in str(meta.get("item_id", "")).lower():
                return False
        else:
            raise bad_request("InvalidFilter", f"The $filter field '{found.group(1)}' is not supported.")
    return True


# -- operation status (the writes' Azure-AsyncOperation and Location URLs) ---------------------
def operation_status(req: ArmRequest, vault_id: str) -> ArmResponse:
    jid = job_id(vault_id, req.params["jobName"])
    job = req.world.get(jid)
    if job is None:
        raise not_found(jid)
    job = view(req.world, job)
    props = job["properties"]
    status = {"Succeeded": "Succeeded", "Failed": "Failed", "Cancelled": "Canceled"}.get(props["state"], "InProgress")
    body: dict[str, Any] = {"id": req.path, "name": job["name"], "status": status, "startTime": props["startTime"]}
    if props.get("endTime"):
        body["endTime"] = props["endTime"]
    if status == "Failed" and props["errors"]:
        service = props["errors"][0]["serviceErrorDetails"]
        body["error"] = {"code": service["code"], "message": service["message"]}
    return ArmResponse(200, body, retry_headers(req.world, jid) if status == "InProgress" else {})


def retry_headers(world: World, jid: str) -> dict[str, str]:
    """`Retry-After` with the seconds until the job ends (at most 30), so pollers sleep as long as the
    work takes; none when under a second is left (the client's own polling interval applies)."""
    left = float(world.meta_of(jid).get("end", 0.0)) - clock.now(world)
    return {"Retry-After": str(min(30, math.ceil(left)))} if left >= 1 else {}


def operation_result(
    req: ArmRequest, vault_id: str, render_item: Callable[[str], dict[str, Any] | None]
) -> ArmResponse:
    jid = job_id(vault_id, req.params["jobName"])
    job = req.world.get(jid)
    if job is None:
        raise not_found(jid)
    job = view(req.world, job)
    props = job["properties"]
    if props["state"] not in {"Succeeded", "Failed", "Cancelled"}:
        location = {"Location": req.base_url + req.path + f"?api-version={req.api_version}"}
        return ArmResponse(202, None, location | retry_headers(req.world, jid))
    if props["state"] == "Failed":
        service = props["errors"][0]["serviceErrorDetails"] if props["errors"] else {"code": "Failed", "message": ""}
        raise ArmError(400, service["code"], service["message"])
    item = render_item(req.world.meta_of(jid).get("item_id", ""))
    return ArmResponse(200, item) if item is not None else ArmResponse(204)
