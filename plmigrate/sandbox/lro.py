"""Long-running operations as ARM runs them.

A provider handler applies its change, then answers through `accepted(...)`: 201/202 with an
absolute `Azure-AsyncOperation` and/or `Location` URL on the sandbox's own host. The operation
reports InProgress for `lro_polls` polls (and until any configured latency has passed), then
Succeeded or Failed. The SDK then makes its final GET on the resource.

While the operation runs, the resource shows it: the first answer and every GET say the
provider's in-progress `provisioningState` (network `Updating`, private DNS `Creating`/`Updating`,
storage `Creating`) until the latency has passed, then `Succeeded`, or `Failed` after an injected
LRO failure (settled lazily from timestamps by `World`). Writes meanwhile are refused as ARM refuses
them: `refuse_if_busy` (409 `AnotherOperationInProgress`, on the resource or the parent it changes)
and `refuse_unprovisioned` (400 `ReferencedResourceNotProvisioned`, on a resource it references).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Literal

from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router
from plmigrate.sandbox.world import key

OPERATIONS_PATH = "/subscriptions/{subscriptionId}/providers/Sandbox.Operations/operations/{operationId}"
RESULTS_PATH = "/subscriptions/{subscriptionId}/providers/Sandbox.Operations/operationResults/{operationId}"
# The operation URLs carry the api-version of the call that started the operation: any version some
# emulated type serves.
API_VERSIONS: dict[str, Served] = {
    "Sandbox.Operations/operations": served(routing="echo"),
    "Sandbox.Operations/operationResults": served(routing="echo"),
}


def accepted(
    req: ArmRequest,
    status: int,
    body: Any,
    *,
    style: Literal["azure-async", "location", "both"] = "azure-async",
    resource_id: str | None = None,
    in_progress: str | None = None,
) -> ArmResponse:
    """Start an operation for a change already applied to the world; answer `status` with `body`.

    `resource_id` names what the operation made or changed. With `in_progress` (the provider's
    state word), the resource shows that state until the operation ends, then `Succeeded` or
    `Failed`; without it, an injected LRO failure marks it `Failed` at once. Either way a failed
    operation leaves the resource `provisioningState: Failed`, as ARM leaves a failed deployment.
    """
    world = req.world
    op_id = world.new_guid()
    fault = req.lro_fault
    latency = req.latency
    sub = world.scenario.subscription_id
    ready_at = time.time() + latency
    world.operations[op_id] = {
        "polls_left": world.scenario.lro_polls,
        "ready_at": ready_at,
        "failed": fault,
        "result_body": body,
        "resource_id": resource_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if resource_id:
        with world.lock:
            stored = world.resources.get(key(resource_id))
            if stored is not None and in_progress:
                stored.setdefault("properties", {})["provisioningState"] = in_progress
                world.in_flight[key(resource_id)] = {
                    "until": ready_at,
                    "final": "Failed" if fault else "Succeeded",
                    "state": in_progress,
                    "operation_id": op_id,
                    "operation": _operation_name(req.method, stored.get("type") or resource_id),
                }
                if isinstance(body, dict) and isinstance(body.get("properties"), dict):
                    body = copy.deepcopy(body)
                    body["properties"]["provisioningState"] = in_progress
            elif stored is not None and fault:
                stored.setdefault("properties", {})["provisioningState"] = "Failed"
    qs = f"?api-version={req.api_version or '2024-01-01'}"
    headers: dict[str, str] = {}
    if style in {"azure-async", "both"}:
        headers["Azure-AsyncOperation"] = (
            req.base_url + OPERATIONS_PATH.format(subscriptionId=sub, operationId=op_id) + qs
        )
    if style in {"location", "both"}:
        headers["Location"] = req.base_url + RESULTS_PATH.format(subscriptionId=sub, operationId=op_id) + qs
    if latency > 0:
        headers["Retry-After"] = str(max(1, math.ceil(latency)))
    return ArmResponse(status, body, headers)


def _operation_name(method: str, resource_type: str) -> str:
    """ARM's name for an operation, e.g. `PutSubnetOperation` (what its refusals cite)."""
    last = resource_type.rstrip("/").split("/")[-1]
    singular = last[:-1] if last.endswith("s") else last
    return f"{method.capitalize()}{singular[:1].upper()}{singular[1:]}Operation"


def _status_url(req: ArmRequest, operation_id: str) -> str:
    sub = req.world.scenario.subscription_id
    return (
        req.base_url
        + OPERATIONS_PATH.format(subscriptionId=sub, operationId=operation_id)
        + f"?api-version={req.api_version or '2024-01-01'}"
    )


def refuse_if_busy(req: ArmRequest, resource_id: str, *, code: str = "AnotherOperationInProgress") -> None:
    """409 while an operation still runs on `resource_id` (the resource written, or the parent the
    write changes): ARM takes one operation at a time on a resource and its dependents."""
    op = req.world.busy(resource_id)
    if op is None:
        return
    if code == "AnotherOperationInProgress":
        message = (
            "Another operation on this or dependent resource is in progress. To retrieve status of the "
            f"operation use uri: {_status_url(req, op['operation_id'])}."
        )
    else:  # the storage RP words it its own way
        message = "An operation is currently performing on this storage account that requires exclusive access."
    raise ArmError(409, code, message)


def refuse_unprovisioned(req: ArmRequest, referenced_id: str, used_by: str) -> None:
    """400 `ReferencedResourceNotProvisioned` while an operation still runs on a resource the
    write references (a subnet for an endpoint, a zone for a zone group, a VNet for a link)."""
    op = req.world.busy(referenced_id)
    if op is None:
        return
    stored = req.world.get(referenced_id)
    shown = stored["id"] if stored else referenced_id
    raise ArmError(
        400,
        "ReferencedResourceNotProvisioned",
        f"Cannot proceed with operation because resource {shown} used by resource {used_by} is not in "
        f"Succeeded state. Resource is in {op['state']} state and the last operation that updated/is "
        f"updating the resource is {op['operation']}.",
    )


def _advance(req: ArmRequest) -> tuple[dict[str, Any], bool, dict[str, str]]:
    op = req.world.operations.get(req.params["operationId"])
    if op is None:
        raise ArmError(404, "OperationNotFound", f"Operation {req.params['operationId']} was not found.")
    headers: dict[str, str] = {}
    remaining = op["ready_at"] - time.time()
    if op["polls_left"] > 0 or remaining > 0:
        op["polls_left"] -= 1
        if remaining > 0:
            headers["Retry-After"] = str(max(1, math.ceil(remaining)))
        return op, False, headers
    return op, True, headers


def operation_status(req: ArmRequest) -> ArmResponse:
    op, done, headers = _advance(req)
    body: dict[str, Any] = {"id": req.path, "name": req.params["operationId"], "startTime": op["started"]}
    if not done:
        body["status"] = "InProgress"
    elif op["failed"]:
        code, message = op["failed"].split("|", 1)
        body["status"] = "Failed"
        body["error"] = {"code": code, "message": message}
    else:
        body["status"] = "Succeeded"
    return ArmResponse(200, body, headers)


def operation_result(req: ArmRequest) -> ArmResponse:
    """Location-style polling: 202 while running, then the result (or the error) itself."""
    op, done, headers = _advance(req)
    if not done:
        headers.setdefault("Location", req.base_url + req.path + f"?api-version={req.api_version}")
        return ArmResponse(202, None, headers)
    if op["failed"]:
        code, message = op["failed"].split("|", 1)
        raise ArmError(500, code, message)
    if op["result_body"] is None:
        return ArmResponse(204)
    # The result reflects the resource now, not when the call was accepted.
    if op["resource_id"]:
        current = req.world.get(op["resource_id"])
        if current is not None:
            return ArmResponse(200, current)
    return ArmResponse(200, op["result_body"])


def register(router: Router) -> None:
    router.add("GET", OPERATIONS_PATH, operation_status)
    router.add("GET", RESULTS_PATH, operation_result)
