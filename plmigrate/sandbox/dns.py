"""The on-prem DNS server of the scenario: what the migration appliance's nameserver answers.

It speaks DNS on the wire (dnspython), over UDP and TCP on the same port, and reads the world live
on every query (through a getter, because a reset replaces the world), so answers follow the
emulated private DNS zones as they change.

The rules, in order, for a query name (case-insensitive):

1. Faults (`World.dns_faults`, set through the admin API `PUT /_sandbox/dns/faults`): a fault for
   the exact name, else for `*`: `timeout` sends no answer at all, `servfail` answers SERVFAIL.
2. Stale answers (`World.dns_stale`, name -> IP): the name answers that fixed A record, whatever
   the zones say (a resolver cache that has not caught up).
3. Known names. `{account}.blob.core.windows.net` is known when a storage account of that name
   exists; `{x}.{geo}.siterecovery.windowsazure.com` is known when some private endpoint lists it
   in `properties.customDnsConfigs[].fqdn`. Each has a private-link name, `privatelink.` inserted
   after the first label for blob (`acct.privatelink.blob.core.windows.net`) and after the geo
   label for Site Recovery (`x.eus.privatelink.siterecovery.windowsazure.com`). Anything else:
   NXDOMAIN. A query for the private-link name follows the same rules, without the CNAME.
4. The public name answers a CNAME to its private-link name, then the private-link name's A:
   - If an on-prem conditional forwarder exists (`World.dns_forwarders`: public zone -> VNet ID of
     the forwarder, set by the scenario or `PUT /_sandbox/dns/forwarders`) for a zone that is a
     suffix of the public (or the queried) name, and a private DNS zone named
     `privatelink.blob.core.windows.net` / `privatelink.siterecovery.windowsazure.com` has a
     virtual network link to that VNet: the A record comes from that zone's record set (relative
     name = the private-link name without the zone). No such record set: NXDOMAIN (still with the
     CNAME), unless the link's `resolutionPolicy` is `NxDomainRedirect`, which falls back to public.
   - Otherwise (no forwarder, or no zone linked to the forwarder's VNet): the public answer, an IP
     in 20.0.0.0/8 derived from a hash of the public name (stable across runs).
5. Record types other than A and CNAME: NOERROR with an empty answer for a name that exists (the
   same NXDOMAIN where rule 4 gives one).
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from plmigrate.sandbox.world import World, key

BLOB_SUFFIX = "blob.core.windows.net"
BLOB_ZONE = "privatelink.blob.core.windows.net"
ASR_SUFFIX = "siterecovery.windowsazure.com"
ASR_ZONE = "privatelink.siterecovery.windowsazure.com"
STORAGE_TYPE = "Microsoft.Storage/storageAccounts"
ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints"
ZONE_TYPE = "Microsoft.Network/privateDnsZones"
CNAME_TTL = 60
PUBLIC_TTL = 60
STALE_TTL = 300
TCP_IDLE_SECONDS = 10.0


@dataclass
class Answer:
    """What the server answers for a name: an rcode, an optional CNAME, A addresses."""

    rcode: int = dns.rcode.NOERROR
    cname: str | None = None  # target of the queried name's CNAME
    ips: list[str] = field(default_factory=list)
    ttl: int = PUBLIC_TTL
    drop: bool = False  # the timeout fault: no answer at all


def public_ip(name: str) -> str:
    """A public-looking IP for a name, in 20.0.0.0/8, the same on every run."""
    digest = hashlib.sha256(name.lower().rstrip(".").encode()).digest()
    return f"20.{digest[0]}.{digest[1]}.{1 + digest[2] % 254}"


def split_name(name: str) -> tuple[str, str, str] | None:
    """(public name, private-link name, private zone name) for a blob or Site Recovery name."""
    labels = name.split(".")
    if name.endswith("." + BLOB_SUFFIX):
        head = labels[: -len(BLOB_SUFFIX.split("."))]
        if head[1:] == ["privatelink"] and len(head) == 2:
            return f"{head[0]}.{BLOB_SUFFIX}", name, BLOB_ZONE
        if len(head) == 1:
            return name, f"{head[0]}.{BLOB_ZONE}", BLOB_ZONE
        return None
    if name.endswith("." + ASR_SUFFIX):
        head = labels[: -len(ASR_SUFFIX.split("."))]
        if len(head) == 3 and head[2] == "privatelink":
            return f"{head[0]}.{head[1]}.{ASR_SUFFIX}", name, ASR_ZONE
        if len(head) == 2:
            return name, f"{head[0]}.{head[1]}.{ASR_ZONE}", ASR_ZONE
    return None


def _public_form(fqdn: str) -> str:
    split = split_name(fqdn.lower().rstrip("."))
    return split[0] if split else fqdn.lower().rstrip(".")


def _is_known(world: World, public: str, zone: str) -> bool:
    if zone == BLOB_ZONE:
        account = public.split(".", 1)[0]
        return any(r.get("name", "").lower() == account for r in world.by_type(STORAGE_TYPE))
    for endpoint in world.by_type(ENDPOINT_TYPE):
        for config in (endpoint.get("properties") or {}).get("customDnsConfigs") or []:
            if _public_form(str(config.get("fqdn") or "")) == public:
                return True
    return False


def _forwarder_vnet(world: World, *names: str) -> str | None:
    """The VNet of the most specific conditional forwarder whose zone covers one of `names`."""
    best: tuple[int, str] | None = None
    for zone, vnet_id in dict(world.dns_forwarders).items():
        zone = zone.lower().strip(".")
        if any(n == zone or n.endswith("." + zone) for n in names) and (best is None or len(zone) > best[0]):
            best = (len(zone), vnet_id)
    return best[1] if best else None


def _linked_zone(world: World, zone_name: str, vnet_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The private zone of that name linked to the VNet, with its link."""
    for zone in world.by_type(ZONE_TYPE):
        if zone["name"].lower() != zone_name:
            continue
        for link in world.children(zone["id"], "virtualNetworkLinks"):
            props = link.get("properties") or {}
            if (
                key((props.get("virtualNetwork") or {}).get("id", "")) == key(vnet_id)
                and props.get("provisioningState", "Succeeded") == "Succeeded"
            ):
                return zone, link
    return None


def resolve(world: World, qname: str) -> Answer:
    """Answer a name by the rules in the module docstring (A records; the caller shapes the reply)."""
    name = qname.lower().rstrip(".")
    fault = world.dns_faults.get(name) or world.dns_faults.get("*")
    if fault == "timeout":
        return Answer(drop=True)
    if fault == "servfail":
        return Answer(rcode=dns.rcode.SERVFAIL)
    if name in world.dns_stale:
        return Answer(ips=[world.dns_stale[name]], ttl=STALE_TTL)
    split = split_name(name)
    if split is None:
        return Answer(rcode=dns.rcode.NXDOMAIN)
    public, private, zone_name = split
    if not _is_known(world, public, zone_name):
        return Answer(rcode=dns.rcode.NXDOMAIN)
    cname = private if name == public else None
    vnet_id = _forwarder_vnet(world, public, name)
    linked = _linked_zone(world, zone_name, vnet_id) if vnet_id else None
    if linked is not None:
        zone, link = linked
        relative = private[: -len(zone_name) - 1]
        record = world.get(f"{zone['id']}/A/{relative}")
        ips = [r["ipv4Address"] for r in ((record or {}).get("properties") or {}).get("aRecords") or []]
        if ips:
            return Answer(cname=cname, ips=ips, ttl=int(record["properties"].get("ttl", 10)))  # type: ignore[index]
        if (link.get("properties") or {}).get("resolutionPolicy") != "NxDomainRedirect":
            return Answer(rcode=dns.rcode.NXDOMAIN, cname=cname)
    return Answer(cname=cname, ips=[public_ip(public)])


def respond(world: World, wire: bytes) -> bytes | None:
    """One query in, one reply out (None: send nothing)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # anything unparsable is answered FORMERR when it can be framed
        if len(wire) >= 2:
            # Echo the ID with FORMERR, as servers do for garbage they can frame.
            return struct.pack("!HHHHHH", struct.unpack("!H", wire[:2])[0], 0x8001, 0, 0, 0, 0)
        return None
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.RA
    if len(query.question) != 1 or query.question[0].rdclass != dns.rdataclass.IN:
        reply.set_rcode(dns.rcode.REFUSED)
        return reply.to_wire()
    question = query.question[0]
    qtype = question.rdtype
    with world.lock:
        answer = resolve(world, question.name.to_text())
    if answer.drop:
        return None
    reply.set_rcode(answer.rcode)
    if answer.rcode == dns.rcode.SERVFAIL:
        return reply.to_wire()
    owner = question.name
    if qtype in (dns.rdatatype.A, dns.rdatatype.CNAME, dns.rdatatype.ANY) and answer.cname:
        target = dns.name.from_text(answer.cname)
        reply.answer.append(dns.rrset.from_text(owner, CNAME_TTL, "IN", "CNAME", target.to_text()))
        owner = target
    if qtype in (dns.rdatatype.A, dns.rdatatype.ANY) and answer.ips and answer.rcode == dns.rcode.NOERROR:
        reply.answer.append(dns.rrset.from_text_list(owner, answer.ttl, "IN", "A", answer.ips))
    return reply.to_wire()


class _Udp(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], getter: Callable[[], World]) -> None:
        self.getter = getter
        super().__init__(address, _UdpHandler)


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _Udp

    def handle(self) -> None:
        data, sock = self.request
        reply = respond(self.server.getter(), data)
        if reply is not None:
            with contextlib.suppress(OSError):
                sock.sendto(reply, self.client_address)


class _Tcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], getter: Callable[[], World]) -> None:
        self.getter = getter
        super().__init__(address, _TcpHandler)


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _Tcp

    def handle(self) -> None:
        sock: socket.socket = self.request
        # A client whose query we drop (timeout fault) gives up and closes; the idle limit
        # frees the thread if it never does.
        sock.settimeout(TCP_IDLE_SECONDS)
        with contextlib.suppress(OSError):
            while True:
                head = _read_exactly(sock, 2)
                if head is None:
                    return
                wire = _read_exactly(sock, struct.unpack("!H", head)[0])
                if wire is None:
                    return
                reply = respond(self.server.getter(), wire)
                if reply is not None:
                    sock.sendall(struct.pack("!H", len(reply)) + reply)


class DnsServer:
    """UDP and TCP on one port of `host` (port 0: a free one, readable from `.port` after start)."""

    def __init__(self, world_getter: Callable[[], World], host: str = "127.0.0.1", port: int = 0) -> None:
        self.world_getter = world_getter
        self.host = host
        self.port = port
        self._udp: _Udp | None = None
        self._tcp: _Tcp | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        # With port 0 the UDP port is picked first and TCP must get the same number; another
        # process may hold it on TCP, so try a few times.
        attempts = 1 if self.port else 20
        last_error: OSError | None = None
        for _ in range(attempts):
            udp = _Udp((self.host, self.port), self.world_getter)
            try:
                tcp = _Tcp((self.host, udp.server_address[1]), self.world_getter)
            except OSError as error:
                udp.server_close()
                last_error = error
                continue
            self._udp, self._tcp = udp, tcp
            self.port = int(udp.server_address[1])
            break
        else:
            raise OSError(f"could not bind UDP and TCP on one port of {self.host}: {last_error}")
        for name, server in (("sandbox-dns-udp", self._udp), ("sandbox-dns-tcp", self._tcp)):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        servers = [s for s in (self._udp, self._tcp) if s is not None]
        # Both loops are told at once, so stopping costs one poll interval, not two.
        stoppers = [threading.Thread(target=s.shutdown, daemon=True) for s in servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=2)
        for server in servers:
            server.server_close()
        self._udp = self._tcp = None
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
