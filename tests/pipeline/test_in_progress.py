"""A resource found mid-operation (a crashed run's PUT still running on Azure) is waited for, not
PUT over: the task reads until provisioningState settles, then decides."""

from __future__ import annotations

import threading
import time

from prefect.logging import disable_run_logger

from plmigrate.azure import Target, clients
from tasks.network import ensure_private_endpoint
from tests.pipeline.conftest import all_approvable, default_scenario

SUB = "00000000-0000-0000-0000-00000000a11e"
SUBNET = (
    f"/subscriptions/{SUB}/resourceGroups/rg-network-hub/providers/Microsoft.Network"
    "/virtualNetworks/vnet-hub-eastus/subnets/snet-private-endpoints"
)


def test_an_endpoint_still_updating_is_waited_for_then_left_alone(world) -> None:
    box = world(all_approvable(default_scenario()))
    target = Target.sandbox(box.info)
    account = next(
        r["id"] for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == "stfinrepl01"
    )
    args = {
        "resource_group": "rg-network-hub",
        "name": "pe-stfinrepl01-blob",
        "location": "eastus",
        "subnet_id": SUBNET,
        "target_id": account,
        "group_id": "blob",
        "tags": {},
    }
    with disable_run_logger():
        ensure_private_endpoint.fn(target, **args)
        endpoint_id = clients(target).network.private_endpoints.get("rg-network-hub", "pe-stfinrepl01-blob").id
        # As a crashed run would leave it on Azure: an operation still running on the endpoint.
        with box.world.lock:
            box.world.resources[endpoint_id.lower()]["properties"]["provisioningState"] = "Updating"

        def finish() -> None:
            time.sleep(1.0)
            with box.world.lock:
                box.world.resources[endpoint_id.lower()]["properties"]["provisioningState"] = "Succeeded"

        threading.Thread(target=finish).start()
        writes = box.world.call_report()["writes"]
        started = time.monotonic()
        facts = ensure_private_endpoint.fn(target, **args)
    assert time.monotonic() - started >= 0.9, "the task did not wait for the running operation"
    assert facts.written is False and facts.connection.status == "Approved"
    assert box.world.call_report()["writes"] == writes
