"""Fault profiles: each fits the Scenario model, changes what it says, and a DNS fault window
applies and clears its faults through the admin API."""

from __future__ import annotations

import time

import pytest

from plmigrate import dnscheck
from plmigrate.sandbox import Scenario
from plmigrate.sandbox.faultprofiles import (
    PROFILES,
    DnsFault,
    FaultProfile,
    apply,
    apply_to_business_unit,
    start_dns_faults,
)
from tests.conftest import Admin


def test_the_matrix_has_every_profile_the_issue_names() -> None:
    assert set(PROFILES) == {
        "none", "429-storm", "5xx", "lro-failures", "principal-not-found", "dns-timeout", "dns-servfail", "slow",
        # issue 12's attacks (benchmark only)
        "5xx-writes-45", "lro-failures-60", "lro-failure-permanent", "dns-servfail-one", "never-finishes",
        "long-retry-after",
    }  # fmt: skip
    for name, profile in PROFILES.items():
        assert profile.name == name and profile.description
    assert [n for n, p in PROFILES.items() if not p.in_tests] == [
        "5xx-writes-45", "lro-failures-60", "lro-failure-permanent", "dns-servfail-one", "never-finishes",
        "long-retry-after",
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_applies_to_the_default_scenario(name: str) -> None:
    base = Scenario.load("default").model_dump()
    changed = Scenario.model_validate(apply(PROFILES[name], base))
    assert changed.storage_accounts == Scenario.load("default").storage_accounts  # the world is kept


def test_apply_appends_faults_and_merges_sections_without_touching_the_input() -> None:
    base = Scenario.load("default").model_dump()
    base["faults"] = [{"method": "DELETE", "status": 409, "code": "Conflict"}]
    before = repr(base)
    five = apply(PROFILES["5xx"], base)
    assert [f["code"] for f in five["faults"]] == ["Conflict", "InternalServerError", "ServiceUnavailable"]
    assert [f["rate"] for f in five["faults"][1:]] == [0.05, 0.05]  # 10% of calls together
    pnf = apply(PROFILES["principal-not-found"], base)
    assert pnf["identity"]["principal_not_found_even_with_type"] is True
    assert pnf["identity"]["assignment_visible_after_seconds"] == base["identity"]["assignment_visible_after_seconds"]
    storm = apply(PROFILES["429-storm"], base)
    assert storm["throttling"]["writes"] == {"burst": 6, "per_second": 3}
    assert repr(base) == before


def test_a_profile_that_does_not_fit_the_scenario_fails_on_apply() -> None:
    bad = FaultProfile(name="bad", description="x", scenario={"faults": [{"rate": "often"}]})
    with pytest.raises(ValueError, match="rate"):
        apply(bad, Scenario.load("default").model_dump())


def test_business_unit_changes_merge_per_section() -> None:
    bu = {"timeouts": {"dns_seconds": 3, "role_seconds": 20}, "name": "finance"}
    out = apply_to_business_unit(PROFILES["dns-timeout"], bu)
    assert out["timeouts"] == {"dns_seconds": 20, "dns_retry_seconds": 0.5, "role_seconds": 20}
    assert bu["timeouts"]["dns_seconds"] == 3


def test_a_dns_fault_window_applies_then_clears(make_sandbox) -> None:
    box = make_sandbox("default")
    admin = Admin(box)
    server = [(box.info.dns_host, box.info.dns_port)]
    name = "stfinrepl01.blob.core.windows.net"
    window = start_dns_faults(admin, FaultProfile("t", "t", dns=DnsFault({"*": "servfail"}, 0.6, None)))
    deadline = time.monotonic() + 2
    while window.applied_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (dnscheck.resolve(name, *server[0]).error or "").startswith("SERVFAIL")
    time.sleep(0.9)
    answer = dnscheck.resolve(name, *server[0])
    assert answer.error is None and answer.ips, answer
    stats = window.stop()
    assert stats["applied"] and 0.5 < stats["seconds"] < 1.5


def test_a_triggered_window_waits_for_its_zone_and_stop_ends_it(make_sandbox) -> None:
    box = make_sandbox("default")
    window = start_dns_faults(Admin(box), PROFILES["dns-timeout"])
    time.sleep(0.3)  # no blob zone records in this world: the fault is never applied
    assert window.stop() == {"applied": False, "seconds": 0.0}
    assert box.world.dns_faults == {}


def test_a_profile_without_dns_faults_gives_an_idle_window(make_sandbox) -> None:
    assert start_dns_faults(Admin(make_sandbox("empty")), PROFILES["5xx"]).stop() == {
        "applied": False,
        "seconds": 0.0,
    }


def test_the_relay_nameserver_relays_and_fails_on_demand(make_sandbox) -> None:
    from plmigrate.sandbox.faultprofiles import RelayNameserver, nameservers_for

    box = make_sandbox("default")
    profile = PROFILES["dns-servfail-one"]
    listed, relay = nameservers_for(profile, (box.info.dns_host, box.info.dns_port))
    assert relay is not None and listed == [f"{box.info.dns_host}:{box.info.dns_port}", relay.nameserver]
    assert nameservers_for(PROFILES["dns-servfail"], ("127.0.0.1", 53)) == ([], None)
    try:
        fqdn = "stfinrepl01.blob.core.windows.net"
        assert dnscheck.resolve(fqdn, relay.address[0], relay.address[1]).error is None
        window = start_dns_faults(
            Admin(box),
            FaultProfile("x", "x", dns=DnsFault({"*": "servfail"}, 1.0, None, second_nameserver=True)),
            relay,
        )
        time.sleep(0.3)
        assert relay.broken and "SERVFAIL" in (dnscheck.resolve(fqdn, relay.address[0], relay.address[1]).error or "")
        assert dnscheck.resolve(fqdn, box.info.dns_host, box.info.dns_port).error is None  # the first one is fine
        assert window.stop()["applied"] and not relay.broken
    finally:
        relay.stop()
    assert isinstance(relay, RelayNameserver)
