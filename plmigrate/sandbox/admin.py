"""The admin API, beside ARM under /_sandbox: what only a person or Azure itself does.

Approve or reject a pending private endpoint connection as the resource's owner, change faults,
latencies, throttling, identity propagation and on-prem DNS, read call counts, dump and reset state;
register appliances and drive Site Recovery's clock (plmigrate.sandbox.providers.siterecovery.admin).
It needs the same bearer token as ARM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from plmigrate.sandbox import connections
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router
from plmigrate.sandbox.providers.siterecovery import admin as siterecovery_admin
from plmigrate.sandbox.scenario import FaultSeed, IdentitySeed, LatencySeed, ThrottlingSeed

if TYPE_CHECKING:
    from plmigrate.sandbox.server import SandboxApp


def _parse(adapter: TypeAdapter[Any], body: Any) -> Any:
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        raise ArmError(400, "InvalidSandboxRequest", str(exc)) from exc


def register(router: Router, app: SandboxApp) -> None:
    p = "/_sandbox"

    def info(req: ArmRequest) -> ArmResponse:
        return ArmResponse(
            200, {"subscription_id": app.scenario.subscription_id, "principal_id": app.scenario.principal_id}
        )

    def decide_connection(req: ArmRequest) -> ArmResponse:
        """Body: {"target_id", "status": Approved|Rejected, "connection_name"?, "description"?}.
        Without a connection name, every Pending connection on the target is decided."""
        body = req.json_body()
        target_id = body.get("target_id")
        status = body.get("status", "Approved")
        if not target_id or status not in connections.STATES:
            raise ArmError(
                400, "InvalidSandboxRequest", "Give target_id and status (Approved, Rejected or Disconnected)."
            )
        description = body.get("description") or f"{status} by the resource owner"
        names = (
            [body["connection_name"]]
            if body.get("connection_name")
            else [
                c["name"]
                for c in connections.for_target(req.world, target_id)
                if c["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
            ]
        )
        decided = [connections.set_state(req.world, target_id, name, status, description) for name in names]
        app.dirty = True
        return ArmResponse(200, {"decided": decided})

    def get_faults(req: ArmRequest) -> ArmResponse:
        rules = app.behaviour.faults
        return ArmResponse(
            200,
            {
                "faults": [r.seed.model_dump() | {"injected": r.injected} for r in rules],
                "injected": app.behaviour.injected(),
            },
        )

    def put_faults(req: ArmRequest) -> ArmResponse:
        app.behaviour.set_faults(_parse(TypeAdapter(list[FaultSeed]), req.body or []))
        return get_faults(req)

    def put_latencies(req: ArmRequest) -> ArmResponse:
        app.behaviour.set_latencies(_parse(TypeAdapter(list[LatencySeed]), req.body or []))
        return ArmResponse(200, {"latencies": [x.model_dump() for x in app.behaviour.latencies]})

    def put_throttling(req: ArmRequest) -> ArmResponse:
        throttling = _parse(TypeAdapter(ThrottlingSeed), req.body or {})
        app.behaviour.set_throttling(throttling)
        return ArmResponse(200, throttling.model_dump())

    def put_identity(req: ArmRequest) -> ArmResponse:
        app.scenario.identity = _parse(TypeAdapter(IdentitySeed), req.body or {})
        return ArmResponse(200, app.scenario.identity.model_dump())

    def put_forwarders(req: ArmRequest) -> ArmResponse:
        """Body: {zone: vnet_id, ...}; replaces the on-prem conditional forwarders."""
        body = req.json_body()
        with req.world.lock:
            req.world.dns_forwarders = {z.lower().strip("."): v for z, v in body.items()}
        app.dirty = True
        return ArmResponse(200, req.world.dns_forwarders)

    def put_dns_faults(req: ArmRequest) -> ArmResponse:
        """Body: {"faults": {name|"*": "timeout"|"servfail"}, "stale": {name: ip}}."""
        body = req.json_body()
        bad = {v for v in body.get("faults", {}).values()} - {"timeout", "servfail"}
        if bad:
            raise ArmError(
                400, "InvalidSandboxRequest", f"Unknown DNS fault(s) {sorted(bad)}; use timeout or servfail."
            )
        with req.world.lock:
            req.world.dns_faults = {k.lower().rstrip("."): v for k, v in body.get("faults", {}).items()}
            req.world.dns_stale = {k.lower().rstrip("."): v for k, v in body.get("stale", {}).items()}
        return ArmResponse(200, {"faults": req.world.dns_faults, "stale": req.world.dns_stale})

    def get_calls(req: ArmRequest) -> ArmResponse:
        return ArmResponse(200, req.world.call_report())

    def clear_calls(req: ArmRequest) -> ArmResponse:
        req.world.forget_calls()
        return ArmResponse(204)

    def get_state(req: ArmRequest) -> ArmResponse:
        return ArmResponse(200, req.world.snapshot())

    def reset(req: ArmRequest) -> ArmResponse:
        app.reset()
        return ArmResponse(204)

    router.add("GET", p + "/info", info)
    router.add("POST", p + "/connections", decide_connection)
    router.add("GET", p + "/faults", get_faults)
    router.add("PUT", p + "/faults", put_faults)
    router.add("PUT", p + "/latencies", put_latencies)
    router.add("PUT", p + "/throttling", put_throttling)
    router.add("PUT", p + "/identity", put_identity)
    router.add("PUT", p + "/dns/forwarders", put_forwarders)
    router.add("PUT", p + "/dns/faults", put_dns_faults)
    router.add("GET", p + "/calls", get_calls)
    router.add("DELETE", p + "/calls", clear_calls)
    router.add("GET", p + "/state", get_state)
    router.add("POST", p + "/reset", reset)
    siterecovery_admin.register(router, app)
