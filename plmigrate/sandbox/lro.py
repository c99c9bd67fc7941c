"""Long-running operations as ARM runs them.

A provider handler applies its change, then answers through `accepted(...)`: 201/202 with an
absolute `Azure-AsyncOperation` and/or `Location` URL on the sandbox's own host. The operation
reports InProgress for `lro_polls` polls (and until any configured latency has passed), then
Succeeded or Failed. The SDK then makes its final GET on the resource.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router

OPERATIONS_PATH = "/subscriptions/{subscriptionId}/providers/Sandbox.Operations/operations/{operationId}"
RESULTS_PATH = "/subscriptions/{subscriptionId}/providers/Sandbox.Operations/operationResults/{operationId}"


def accepted(
    req: ArmRequest,
    status: int,
    body: Any,
    *,
    style: Literal["azure-async", "location", "both"] = "azure-async",
    resource_id: str | None = None,
) -> ArmResponse:
    """Start an operation for a change already applied to the world; answer `status` with `body`.

    `resource_id` names what the operation made or changed, so an injected LRO failure can mark it
    `provisioningState: Failed`, as ARM leaves a resource whose deployment failed.
    """
    world = req.world
    op_id = world.new_guid()
    fault = req.lro_fault
    latency = req.latency
    sub = world.scenario.subscription_id
    world.operations[op_id] = {
        "polls_left": world.scenario.lro_polls,
        "ready_at": time.time() + latency,
        "failed": fault,
        "result_body": body,
        "resource_id": resource_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if fault and resource_id:
        with world.lock:
            stored = world.resources.get(resource_id.lower())
            if stored is not None:
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
