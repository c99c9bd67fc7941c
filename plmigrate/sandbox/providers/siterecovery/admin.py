"""The admin API's Site Recovery part (under /_sandbox/siterecovery): what a person does on the
appliance or on-prem, and what tests need to see or speed up.

- `POST /appliances/{appliance}/register` `{"vault_id"}`: register the appliance with the vault
  (the appliance's setup with the vault's key file); 200 with the fabric, container, policy and
  process server it made; 400 with the first problem's code when the appliance cannot reach the
  vault (its private link FQDNs do not resolve to the endpoint's IPs from on-prem DNS).
- `GET /appliances`: every appliance of the scenario, registered or not, with its machines.
- `PATCH /machines/{appliance}/{server}` `{"mobility_agent"?, "fault"?, "power"?}`: change a
  discovered machine's facts (install the agent, inject or clear a fault, power state).
- `POST /advance` `{"seconds"}`: move Site Recovery's clock forward (jobs end, replication
  progresses); `PUT /time` `{"scale"}`: scale the durations of work started from now on.
- `GET /items/{item_id:path}`: an item's hidden state (protection and test state, progress, job,
  stall, VMs) read without going through ARM; `PATCH` it with `{"resync_required": bool}` (what Site
  Recovery decides when replication breaks).
- `POST /hyperv-sites` `{"vault_id", "fabric", "container", "provider", "provider_host", "policy",
  "vms": [{"name", "friendly_name"}]}`: a Hyper-V site registered with the vault (agentless Hyper-V,
  the official examples' world): its HyperVSite fabric, container, provider, HyperVReplicaAzure
  policy and protectable VMs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router
from plmigrate.sandbox.providers import offazure
from plmigrate.sandbox.providers.siterecovery import clock, infra, items

if TYPE_CHECKING:
    from plmigrate.sandbox.server import SandboxApp

FAULTS = {"enable_fails", "replication_stalls", "test_failover_fails", "failover_fails"}


def registration_summary(world: Any, fabric: dict[str, Any]) -> dict[str, Any]:
    shown = infra.fabric_view(world, fabric)
    container = world.children(fabric["id"], "replicationProtectionContainers")[0]
    mapping = world.children(container["id"], "replicationProtectionContainerMappings")[0]
    return {
        "appliance": infra.appliance_of(world, fabric["id"]),
        "fabric_id": fabric["id"],
        "fabric": fabric["name"],
        "container_id": container["id"],
        "container": container["name"],
        "policy_id": mapping["properties"]["policyId"],
        "process_server_id": shown["properties"]["customDetails"]["processServers"][0]["id"],
        "health": shown["properties"]["health"],
    }


def register(router: Router, app: SandboxApp) -> None:
    p = "/_sandbox/siterecovery"

    def register_appliance(req: ArmRequest) -> ArmResponse:
        body = req.json_body()
        vault_id = body.get("vault_id")
        name = req.params["appliance"]
        if not vault_id:
            raise ArmError(400, "InvalidSandboxRequest", "Give vault_id: the ARM ID of the Recovery Services vault.")
        try:
            fabric = infra.register_appliance(req.world, vault_id, name)
        except KeyError:
            known = ", ".join(a.name for a in req.world.scenario.appliances) or "none"
            raise ArmError(
                404, "ApplianceNotFound", f"The scenario has no appliance '{name}' (appliances: {known})."
            ) from None
        except LookupError:
            raise ArmError(404, "VaultNotFound", f"The vault '{vault_id}' does not exist.") from None
        except infra.RegistrationFailed as failed:
            first = failed.problems[0]
            raise ArmError(
                400,
                first.code,
                f"Registration of the appliance '{name}' failed: {first.message} {first.recommended_action}",
                details=[{"code": p.code, "message": p.message} for p in failed.problems],
            ) from None
        app.dirty = True
        return ArmResponse(200, registration_summary(req.world, fabric))

    def list_appliances(req: ArmRequest) -> ArmResponse:
        world = req.world
        out = []
        for appliance in world.scenario.appliances:
            registered = [
                registration_summary(world, f)
                for v in world.by_type("Microsoft.RecoveryServices/vaults")
                for f in [infra.fabric_of_appliance(world, v["id"], appliance.name)]
                if f is not None
            ]
            machines = [
                {
                    "server": m["properties"]["displayName"],
                    "machine_id": m["id"],
                    "mobility_agent": bool((m["properties"].get("mobilityAgent") or {}).get("installed")),
                    "fault": world.meta_of(m["id"]).get("fault"),
                    "power": m["properties"].get("powerStatus"),
                }
                for m in offazure.machines_of(world, appliance.name)
            ]
            out.append({"appliance": appliance.name, "registrations": registered, "machines": machines})
        return ArmResponse(200, {"appliances": out})

    def patch_machine(req: ArmRequest) -> ArmResponse:
        world = req.world
        body = req.json_body()
        appliance, server = req.params["appliance"], req.params["server"]
        found = [
            m
            for m in offazure.machines_of(world, appliance)
            if m["properties"]["displayName"].lower() == server.lower()
        ]
        if not found:
            raise ArmError(404, "MachineNotFound", f"The appliance '{appliance}' discovered no machine '{server}'.")
        if "fault" in body and body["fault"] is not None and body["fault"] not in FAULTS:
            raise ArmError(400, "InvalidSandboxRequest", f"fault: one of {sorted(FAULTS)} or null.")
        with world.lock:
            machine = found[0]
            if "mobility_agent" in body:
                installed = bool(body["mobility_agent"])
                machine["properties"]["mobilityAgent"] = {
                    "installed": installed,
                    "version": offazure.MOBILITY_AGENT_VERSION if installed else None,
                }
            if "power" in body:
                machine["properties"]["powerStatus"] = str(body["power"]).upper()
            world.put(machine)
            if "fault" in body:
                world.meta_of(machine["id"])["fault"] = body["fault"]
        app.dirty = True
        return ArmResponse(
            200,
            {
                "machine_id": machine["id"],
                "mobility_agent": machine["properties"]["mobilityAgent"]["installed"],
                "fault": world.meta_of(machine["id"]).get("fault"),
                "power": machine["properties"]["powerStatus"],
            },
        )

    def advance(req: ArmRequest) -> ArmResponse:
        body = req.json_body()
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise ArmError(400, "InvalidSandboxRequest", "Give seconds: a number >= 0.")
        offset = clock.advance(req.world, float(seconds))
        app.dirty = True
        return ArmResponse(200, {"offset_seconds": offset, "scale": clock.scale(req.world)})

    def put_time(req: ArmRequest) -> ArmResponse:
        body = req.json_body()
        scale = body.get("scale")
        if not isinstance(scale, int | float) or scale <= 0:
            raise ArmError(400, "InvalidSandboxRequest", "Give scale: a number > 0 (durations are multiplied by it).")
        clock.set_scale(req.world, float(scale))
        app.dirty = True
        return ArmResponse(200, {"offset_seconds": clock.advance(req.world, 0), "scale": clock.scale(req.world)})

    def item_state(req: ArmRequest) -> ArmResponse:
        rid = "/" + req.params["item_id"].strip("/")
        meta = items.settle(req.world, rid)
        if meta is None:
            raise ArmError(404, "ItemNotFound", f"No replicated item '{rid}'.")
        shown = {k: v for k, v in meta.items() if k != "input"}
        shown["progress"] = items.progress(meta)
        shown["allowed_operations"] = items.allowed_operations(meta, items.jobs.running(req.world, meta.get("job")))
        return ArmResponse(200, shown)

    def patch_item(req: ArmRequest) -> ArmResponse:
        rid = "/" + req.params["item_id"].strip("/")
        body = req.json_body()
        with req.world.lock:
            meta = items.settle(req.world, rid)
            if meta is None:
                raise ArmError(404, "ItemNotFound", f"No replicated item '{rid}'.")
            if "resync_required" in body:
                meta["resync_required"] = bool(body["resync_required"])
        app.dirty = True
        return item_state(req)

    def hyperv_site(req: ArmRequest) -> ArmResponse:
        body = req.json_body()
        missing = [k for k in ("vault_id", "fabric", "container") if not body.get(k)]
        if missing:
            raise ArmError(400, "InvalidSandboxRequest", f"Give {', '.join(missing)}.")
        try:
            made = infra.register_hyperv_site(
                req.world,
                body["vault_id"],
                fabric=body["fabric"],
                container=body["container"],
                provider=body.get("provider"),
                provider_host=body.get("provider_host"),
                policy=body.get("policy"),
                vms=list(body.get("vms") or []),
            )
        except LookupError:
            raise ArmError(404, "VaultNotFound", f"The vault '{body['vault_id']}' does not exist.") from None
        app.dirty = True
        return ArmResponse(200, made)

    router.add("POST", p + "/appliances/{appliance}/register", register_appliance)
    router.add("POST", p + "/hyperv-sites", hyperv_site)
    router.add("PATCH", p + "/items/{item_id:path}", patch_item)
    router.add("GET", p + "/appliances", list_appliances)
    router.add("PATCH", p + "/machines/{appliance}/{server}", patch_machine)
    router.add("POST", p + "/advance", advance)
    router.add("PUT", p + "/time", put_time)
    router.add("GET", p + "/items/{item_id:path}", item_state)
