"""plmigrate's one client factory (plmigrate/azure.py) against the sandbox: one set of SDK clients
per target, however many task runs ask for it at once, and one connection pool for all of them."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox
from plmigrate.sandbox.scenario import LatencySeed


def test_clients_asked_for_by_many_threads_at_once_are_built_once(sandbox: Sandbox) -> None:
    # A flow's first task runs start together. Built once each, they would pace their calls with
    # ArmBudgets of their own and, against Azure, each fetch a token with its own credential.
    target = Target.sandbox(sandbox.info)
    start = threading.Barrier(8)
    got: list[AzureClients] = []

    def ask() -> None:
        start.wait()
        got.append(clients(target))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and len({id(c) for c in got}) == 1


def test_every_client_of_a_target_reuses_one_connection(sandbox: Sandbox) -> None:
    az = clients(Target.sandbox(sandbox.info))
    sandbox.world.forget_calls()
    list(az.resources.resource_groups.list())
    list(az.network.virtual_networks.list_all())
    list(az.storage.storage_accounts.list())
    list(az.privatedns.private_zones.list())
    list(az.recoveryservices.vaults.list_by_subscription_id())
    report = sandbox.world.call_report()
    assert report["reads"] == 5
    # With a session per client (azure-core's default) each client opened its own connection.
    assert report["connections"] == 1


def test_calls_in_flight_stay_within_the_targets_budget_across_clients_and_threads(sandbox: Sandbox) -> None:
    # limits.arm_concurrency bounds a target's calls in flight, whichever client and task run
    # makes them: one ArmBudget per target, even for task runs that start together.
    sandbox.app.behaviour.set_latencies([LatencySeed(method="GET", seconds=0.05)])
    target = dataclasses.replace(Target.sandbox(sandbox.info), max_in_flight=2)
    reads: list[Callable[[AzureClients], object]] = [
        lambda az: list(az.resources.resource_groups.list()),
        lambda az: list(az.network.virtual_networks.list_all()),
        lambda az: list(az.storage.storage_accounts.list()),
        lambda az: list(az.privatedns.private_zones.list()),
        lambda az: list(az.recoveryservices.vaults.list_by_subscription_id()),
    ] * 2
    start = threading.Barrier(len(reads))

    def run(read: Callable[[AzureClients], object]) -> None:
        start.wait()
        read(clients(target))

    threads = [threading.Thread(target=run, args=(read,)) for read in reads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = sandbox.world.call_report()
    assert report["reads"] == 10
    assert report["peak_in_flight"] == 2
