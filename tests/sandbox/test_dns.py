"""The sandbox's on-prem DNS server, queried with dnspython over UDP and TCP, while the private DNS
zones change through the real azure-mgmt-privatedns client and the on-prem forwarders and DNS
faults change through the admin API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox
from plmigrate.sandbox.dns import DnsServer, public_ip, split_name
from tests.conftest import Admin

SUB = "00000000-0000-0000-0000-00000000a11e"
RG = "rg-network-hub"
GROUP_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}"
VNET_ID = f"{GROUP_ID}/providers/Microsoft.Network/virtualNetworks/vnet-hub-eastus"
OTHER_VNET_ID = f"{GROUP_ID}/providers/Microsoft.Network/virtualNetworks/vnet-spoke"
BLOB_ZONE = "privatelink.blob.core.windows.net"
ASR_ZONE = "privatelink.siterecovery.windowsazure.com"
ACCOUNT = "stfinrepl01"
BLOB = f"{ACCOUNT}.blob.core.windows.net"
BLOB_PRIVATE = f"{ACCOUNT}.{BLOB_ZONE}"
ASR_RELATIVE = "1234567890-asr-pod01-rcm1.eus"
ASR = f"{ASR_RELATIVE.split('.')[0]}.eus.siterecovery.windowsazure.com"
ASR_PRIVATE = f"{ASR_RELATIVE}.{ASR_ZONE}"
SCENARIO = {
    "subscription_id": SUB,
    "resource_groups": [{"name": RG, "location": "eastus"}],
    "dns_forwarders": [
        {"zone": "blob.core.windows.net", "vnet_id": VNET_ID},
        {"zone": "eus.siterecovery.windowsazure.com", "vnet_id": VNET_ID},
    ],
}


def seed_world(box: Sandbox) -> None:
    """What other providers make, put straight into the world: VNets, an account, an endpoint."""
    for vnet in (VNET_ID, OTHER_VNET_ID):
        box.world.put(
            {
                "id": vnet,
                "name": vnet.rsplit("/", 1)[1],
                "type": "Microsoft.Network/virtualNetworks",
                "location": "eastus",
                "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]}},
            }
        )
    box.world.put(
        {
            "id": f"{GROUP_ID}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}",
            "name": ACCOUNT,
            "type": "Microsoft.Storage/storageAccounts",
            "location": "eastus",
            "kind": "StorageV2",
            "properties": {},
        }
    )
    box.world.put(
        {
            "id": f"{GROUP_ID}/providers/Microsoft.Network/privateEndpoints/pe-vault",
            "name": "pe-vault",
            "type": "Microsoft.Network/privateEndpoints",
            "location": "eastus",
            "properties": {"customDnsConfigs": [{"fqdn": ASR, "ipAddresses": ["10.20.1.10"]}]},
        }
    )


def make_zone(az: AzureClients, zone: str, *, link_to: str | None = VNET_ID) -> None:
    az.privatedns.private_zones.begin_create_or_update(RG, zone, {"location": "global"}).result()
    if link_to:
        az.privatedns.virtual_network_links.begin_create_or_update(
            RG, zone, "link-hub", {"location": "global", "properties": {"virtualNetwork": {"id": link_to}}}
        ).result()


def put_a(az: AzureClients, zone: str, relative: str, ip: str) -> None:
    az.privatedns.record_sets.create_or_update(
        RG, zone, "A", relative, {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": ip}]}}
    )


@pytest.fixture
def box(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    sandbox = make_sandbox(SCENARIO)
    seed_world(sandbox)
    return sandbox


@pytest.fixture
def az(box: Sandbox) -> AzureClients:
    return clients(Target.sandbox(box.info))


@pytest.fixture
def admin(box: Sandbox) -> Admin:
    return Admin(box)


def ask(box: Sandbox, name: str, rdtype: str = "A", *, tcp: bool = False, timeout: float = 2.0) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, box.info.dns_host, port=box.info.dns_port, timeout=timeout)


def summary(reply: dns.message.Message) -> tuple[str, list[tuple[str, str, str]]]:
    """(rcode, [(owner, type, data)]) of a reply, lower-case (DNS name compression may keep the
    question's case in later names) and without trailing dots."""
    rows = [
        (
            rrset.name.to_text().lower().rstrip("."),
            dns.rdatatype.to_text(rrset.rdtype),
            rd.to_text().lower().rstrip("."),
        )
        for rrset in reply.answer
        for rd in rrset
    ]
    return dns.rcode.to_text(reply.rcode()), rows


def private_answer(public: str, private: str, ip: str) -> tuple[str, list[Any]]:
    return "NOERROR", [(public, "CNAME", private), (private, "A", ip)]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_blob_and_asr_names_resolve_to_the_private_ip_through_the_forwarder(
    box: Sandbox, az: AzureClients, tcp: bool
) -> None:
    assert box.info.dns_port > 0
    make_zone(az, BLOB_ZONE)
    put_a(az, BLOB_ZONE, ACCOUNT, "10.20.1.4")
    make_zone(az, ASR_ZONE)
    put_a(az, ASR_ZONE, ASR_RELATIVE, "10.20.1.10")
    assert summary(ask(box, BLOB, tcp=tcp)) == private_answer(BLOB, BLOB_PRIVATE, "10.20.1.4")
    assert summary(ask(box, ASR.upper(), tcp=tcp)) == private_answer(ASR, ASR_PRIVATE, "10.20.1.10")
    # The private-link names asked directly: the A record alone.
    assert summary(ask(box, BLOB_PRIVATE, tcp=tcp)) == ("NOERROR", [(BLOB_PRIVATE, "A", "10.20.1.4")])
    assert summary(ask(box, ASR_PRIVATE, tcp=tcp)) == ("NOERROR", [(ASR_PRIVATE, "A", "10.20.1.10")])


def test_without_a_forwarder_the_public_answer(box: Sandbox, az: AzureClients, admin: Admin) -> None:
    make_zone(az, BLOB_ZONE)
    put_a(az, BLOB_ZONE, ACCOUNT, "10.20.1.4")
    make_zone(az, ASR_ZONE)
    put_a(az, ASR_ZONE, ASR_RELATIVE, "10.20.1.10")
    assert admin.call("PUT", "/dns/forwarders", {}) == {}
    blob_ip, asr_ip = public_ip(BLOB), public_ip(ASR)
    assert blob_ip.startswith("20.") and blob_ip != asr_ip and public_ip(BLOB) == blob_ip
    assert summary(ask(box, BLOB)) == private_answer(BLOB, BLOB_PRIVATE, blob_ip)
    assert summary(ask(box, ASR, tcp=True)) == private_answer(ASR, ASR_PRIVATE, asr_ip)
    # Putting the forwarder back brings the private answer back.
    admin.call("PUT", "/dns/forwarders", {"Blob.Core.Windows.Net.": VNET_ID})
    assert summary(ask(box, BLOB)) == private_answer(BLOB, BLOB_PRIVATE, "10.20.1.4")
    # A forwarder for another geo does not cover eus names.
    admin.call("PUT", "/dns/forwarders", {"wus.siterecovery.windowsazure.com": VNET_ID})
    assert summary(ask(box, ASR)) == private_answer(ASR, ASR_PRIVATE, asr_ip)


def test_linked_zone_without_the_record_is_nxdomain_with_the_cname(box: Sandbox, az: AzureClients) -> None:
    make_zone(az, BLOB_ZONE)
    make_zone(az, ASR_ZONE)
    reply = ask(box, BLOB)
    assert summary(reply) == ("NXDOMAIN", [(BLOB, "CNAME", BLOB_PRIVATE)])
    assert summary(ask(box, ASR_PRIVATE, tcp=True)) == ("NXDOMAIN", [])


def test_answers_follow_record_changes_made_through_the_sdk(box: Sandbox, az: AzureClients) -> None:
    make_zone(az, BLOB_ZONE)
    put_a(az, BLOB_ZONE, ACCOUNT, "10.20.1.4")
    assert summary(ask(box, BLOB)) == private_answer(BLOB, BLOB_PRIVATE, "10.20.1.4")
    put_a(az, BLOB_ZONE, ACCOUNT, "10.20.1.9")
    assert summary(ask(box, BLOB, tcp=True)) == private_answer(BLOB, BLOB_PRIVATE, "10.20.1.9")
    az.privatedns.record_sets.delete(RG, BLOB_ZONE, "A", ACCOUNT)
    assert summary(ask(box, BLOB))[0] == "NXDOMAIN"


def test_unlinked_zone_gives_the_public_answer(box: Sandbox, az: AzureClients) -> None:
    make_zone(az, BLOB_ZONE)
    put_a(az, BLOB_ZONE, ACCOUNT, "10.20.1.4")
    az.privatedns.virtual_network_links.begin_delete(RG, BLOB_ZONE, "link-hub").result()
    assert summary(ask(box, BLOB)) == private_answer(BLOB, BLOB_PRIVATE, public_ip(BLOB))
    # Linked to a VNet that is not the forwarder's: still public.
    az.privatedns.virtual_network_links.begin_create_or_update(
        RG, BLOB_ZONE, "link-spoke", {"location": "global", "properties": {"virtualNetwork": {"id": OTHER_VNET_ID}}}
    ).result()
    assert summary(ask(box, BLOB, tcp=True)) == private_answer(BLOB, BLOB_PRIVATE, public_ip(BLOB))


def test_nxdomain_redirect_policy_falls_back_to_public(box: Sandbox, az: AzureClients) -> None:
    make_zone(az, BLOB_ZONE, link_to=None)
    az.privatedns.virtual_network_links.begin_create_or_update(
        RG,
        BLOB_ZONE,
        "link-hub",
        {
            "location": "global",
            "properties": {"virtualNetwork": {"id": VNET_ID}, "resolutionPolicy": "NxDomainRedirect"},
        },
    ).result()
    assert summary(ask(box, BLOB)) == private_answer(BLOB, BLOB_PRIVATE, public_ip(BLOB))


def test_unknown_names_are_nxdomain_and_other_types_are_empty(box: Sandbox, az: AzureClients) -> None:
    for name in (
        "stnosuchaccount.blob.core.windows.net",
        "9999999999-asr-pod01-rcm1.eus.siterecovery.windowsazure.com",
        "www.example.com",
        "blob.core.windows.net",
        BLOB_ZONE,
    ):
        assert summary(ask(box, name)) == ("NXDOMAIN", []), name
    assert summary(ask(box, BLOB, "AAAA")) == ("NOERROR", [])
    assert summary(ask(box, ASR, "TXT", tcp=True)) == ("NOERROR", [])
    assert summary(ask(box, "www.example.com", "AAAA"))[0] == "NXDOMAIN"
    assert summary(ask(box, BLOB, "CNAME")) == ("NOERROR", [(BLOB, "CNAME", BLOB_PRIVATE)])


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_faults_timeout_servfail_and_stale(box: Sandbox, az: AzureClients, admin: Admin, tcp: bool) -> None:
    make_zone(az, BLOB_ZONE)
    put_a(az, BLOB_ZONE, ACCOUNT, "10.20.1.4")
    admin.call(
        "PUT", "/dns/faults", {"faults": {BLOB: "timeout", ASR: "servfail"}, "stale": {BLOB_PRIVATE: "10.9.9.9"}}
    )
    with pytest.raises(dns.exception.Timeout):
        ask(box, BLOB, tcp=tcp, timeout=0.3)
    assert summary(ask(box, ASR, tcp=tcp)) == ("SERVFAIL", [])
    assert summary(ask(box, BLOB_PRIVATE, tcp=tcp)) == ("NOERROR", [(BLOB_PRIVATE, "A", "10.9.9.9")])
    admin.call("PUT", "/dns/faults", {"faults": {"*": "servfail"}})
    assert summary(ask(box, "anything.example.org", tcp=tcp)) == ("SERVFAIL", [])
    admin.call("PUT", "/dns/faults", {})
    assert summary(ask(box, BLOB, tcp=tcp)) == private_answer(BLOB, BLOB_PRIVATE, "10.20.1.4")


def test_the_world_is_read_live_across_a_reset(box: Sandbox, az: AzureClients, admin: Admin) -> None:
    make_zone(az, BLOB_ZONE)
    put_a(az, BLOB_ZONE, ACCOUNT, "10.20.1.4")
    assert summary(ask(box, BLOB))[1][-1] == (BLOB_PRIVATE, "A", "10.20.1.4")
    admin.call("POST", "/reset")
    assert summary(ask(box, BLOB)) == ("NXDOMAIN", [])  # the account is gone with the old world
    seed_world(box)
    assert summary(ask(box, BLOB)) == private_answer(BLOB, BLOB_PRIVATE, public_ip(BLOB))


def test_name_rules_and_server_lifecycle(box: Sandbox) -> None:
    assert split_name(BLOB) == (BLOB, BLOB_PRIVATE, BLOB_ZONE)
    assert split_name(ASR_PRIVATE) == (ASR, ASR_PRIVATE, ASR_ZONE)
    assert split_name("a.b.blob.core.windows.net") is None
    assert split_name("x.siterecovery.windowsazure.com") is None
    server = DnsServer(lambda: box.world, "127.0.0.1", 0)
    server.start()
    try:
        assert server.port > 0 and server.port != box.info.dns_port
        reply = dns.query.udp(dns.message.make_query("www.example.com", "A"), "127.0.0.1", port=server.port, timeout=2)
        assert reply.rcode() == dns.rcode.NXDOMAIN
    finally:
        server.stop()
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query("www.example.com", "A"), "127.0.0.1", port=server.port, timeout=0.3)
