"""dnscheck against a tiny real DNS server on 127.0.0.1 (UDP and TCP on one port, in threads): real packets,
nothing mocked. The server answers fixed records, including CNAME chains, NXDOMAIN, SERVFAIL, a name it
never answers (for the timeout) and one too big for UDP (for the TCP fallback)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from plmigrate.dnscheck import check, resolve
from plmigrate.errors import InputError

BLOB = "stfinrepl01.blob.core.windows.net"
BLOB_PRIVATE = "stfinrepl01.privatelink.blob.core.windows.net"
BIG_IPS = [f"10.30.{i // 250}.{i % 250 + 1}" for i in range(120)]  # ~2 KB of answers: more than UDP's 512 bytes


class TinyDns:
    """Answers from a table; `zone` maps a name to ("A", [ips]) | ("CNAME", target) | "NXDOMAIN" | "SERVFAIL" |
    "SILENT" | "NODATA". Names not in the table are NXDOMAIN. Every query is logged as (protocol, name)."""

    def __init__(self, zone: dict[str, object]) -> None:
        self.zone = {name.lower().rstrip("."): value for name, value in zone.items()}
        self.queries: list[tuple[str, str]] = []
        self.udp, self.tcp = self._bind_pair()
        self.port = self.udp.getsockname()[1]
        for sock in (self.udp, self.tcp):
            sock.settimeout(0.05)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._serve_udp), threading.Thread(target=self._serve_tcp)]
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _bind_pair() -> tuple[socket.socket, socket.socket]:
        """UDP and TCP on one free port: a port free for UDP may be taken for TCP, so try a few."""
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen()
            return udp, tcp
        raise OSError("no port free for both UDP and TCP")

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.udp.close()
        self.tcp.close()

    def answer(self, wire: bytes, protocol: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        name = query.question[0].name
        self.queries.append((protocol, name.to_text(omit_final_dot=True)))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        current = name
        for _ in range(20):
            entry = self.zone.get(current.to_text(omit_final_dot=True).lower(), "NXDOMAIN")
            if entry == "SILENT":
                return None
            if entry in ("NXDOMAIN", "SERVFAIL"):
                response.set_rcode(dns.rcode.from_text(entry))
                break
            if entry == "NODATA":
                break
            kind, value = entry  # type: ignore[misc]
            if kind == "CNAME":
                response.answer.append(dns.rrset.from_text(current, 300, "IN", "CNAME", value + "."))
                current = dns.name.from_text(value)
                continue
            response.answer.append(dns.rrset.from_text_list(current, 300, "IN", "A", value))
            break
        wire = response.to_wire()
        if protocol == "udp" and len(wire) > 512:
            # What a server does when the answer does not fit: the header and question, with TC set.
            response.answer = []
            response.flags |= dns.flags.TC
            wire = response.to_wire()
        return wire

    def _serve_udp(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, client = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            reply = self.answer(wire, "udp")
            if reply is not None:
                self.udp.sendto(reply, client)

    def _serve_tcp(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                (length,) = struct.unpack("!H", _read(conn, 2))
                reply = self.answer(_read(conn, length), "tcp")
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)


def _read(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


# On-prem DNS with a conditional forwarder: the public name CNAMEs to privatelink, whose A record is private.
FORWARDED = {
    BLOB: ("CNAME", BLOB_PRIVATE),
    BLOB_PRIVATE: ("A", ["10.20.1.5"]),
    "vault.eus.siterecovery.windowsazure.com": ("CNAME", "vault.eus.privatelink.siterecovery.windowsazure.com"),
    "vault.eus.privatelink.siterecovery.windowsazure.com": ("A", ["10.20.1.6"]),
    "plain.test": ("A", ["10.20.1.4"]),
    "two.test": ("A", ["10.20.1.4", "10.20.1.9"]),
    "fail.test": "SERVFAIL",
    "silent.test": "SILENT",
    "silent2.test": "SILENT",
    "nodata.test": "NODATA",
    "big.test": ("A", BIG_IPS),
    "loop-a.test": ("CNAME", "loop-b.test"),
    "loop-b.test": ("CNAME", "loop-a.test"),
}
# The same names without a forwarder: the privatelink name goes on to the public endpoint.
PUBLIC = {
    BLOB: ("CNAME", BLOB_PRIVATE),
    BLOB_PRIVATE: ("CNAME", "blob.bl5prdstr09a.store.core.windows.net"),
    "blob.bl5prdstr09a.store.core.windows.net": ("A", ["20.60.1.4"]),
}


@pytest.fixture(scope="module")
def forwarded() -> Iterator[TinyDns]:
    server = TinyDns(FORWARDED)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def public() -> Iterator[TinyDns]:
    server = TinyDns(PUBLIC)
    yield server
    server.stop()


def test_follows_the_cname_chain_to_the_a_record(forwarded: TinyDns) -> None:
    answer = resolve(BLOB, "127.0.0.1", forwarded.port)
    assert (answer.fqdn, answer.nameserver) == (BLOB, f"127.0.0.1:{forwarded.port}")
    assert (answer.ips, answer.cname_chain, answer.error) == (["10.20.1.5"], [BLOB_PRIVATE], None)


def test_a_two_step_chain_to_a_public_address(public: TinyDns) -> None:
    answer = resolve(BLOB + ".", "127.0.0.1", public.port)
    assert answer.fqdn == BLOB
    assert answer.cname_chain == [BLOB_PRIVATE, "blob.bl5prdstr09a.store.core.windows.net"]
    assert answer.ips == ["20.60.1.4"] and answer.error is None


def test_plain_and_multiple_a_records(forwarded: TinyDns) -> None:
    assert resolve("plain.test", "127.0.0.1", forwarded.port).ips == ["10.20.1.4"]
    assert sorted(resolve("two.test", "127.0.0.1", forwarded.port).ips) == ["10.20.1.4", "10.20.1.9"]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("missing.test", "NXDOMAIN: 127.0.0.1:{port} says missing.test does not exist"),
        ("fail.test", "SERVFAIL: 127.0.0.1:{port} could not answer for fail.test"),
        ("loop-a.test", "CNAME loop at loop-a.test"),
    ],
)
def test_failures_are_answers_not_exceptions(forwarded: TinyDns, name: str, error: str) -> None:
    answer = resolve(name, "127.0.0.1", forwarded.port)
    assert answer.error == error.format(port=forwarded.port)
    assert answer.ips == []


def test_no_data_is_an_empty_answer(forwarded: TinyDns) -> None:
    answer = resolve("nodata.test", "127.0.0.1", forwarded.port)
    assert (answer.ips, answer.error) == ([], None)


def test_a_silent_nameserver_times_out(forwarded: TinyDns) -> None:
    answer = resolve("silent.test", "127.0.0.1", forwarded.port, timeout=0.3)
    assert answer.error == f"timeout: no reply from 127.0.0.1:{forwarded.port} within 0.3 s"
    assert ("udp", "silent.test") in forwarded.queries


def test_a_truncated_udp_reply_is_retried_over_tcp(forwarded: TinyDns) -> None:
    answer = resolve("big.test", "127.0.0.1", forwarded.port)
    assert sorted(answer.ips) == sorted(BIG_IPS)
    assert [q for q in forwarded.queries if q[1] == "big.test"][-2:] == [("udp", "big.test"), ("tcp", "big.test")]


def test_tcp_on_request(forwarded: TinyDns) -> None:
    answer = resolve(BLOB, "127.0.0.1", forwarded.port, tcp=True)
    assert answer.ips == ["10.20.1.5"]
    assert forwarded.queries[-1] == ("tcp", BLOB)


def test_nothing_listening() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # UDP to a closed local port: the ICMP "port unreachable" surfaces as a refused connection (or a timeout).
    answer = resolve(BLOB, "127.0.0.1", port, timeout=0.5)
    assert answer.error is not None and answer.error.startswith(("unreachable: 127.0.0.1", "timeout: no reply"))
    answer = resolve(BLOB, "127.0.0.1", port, timeout=0.5, tcp=True)
    # Refused, normally; "reset by peer" if another process on this machine took the freed port meanwhile.
    assert answer.error is not None and answer.error.startswith(f"unreachable: 127.0.0.1:{port} (Connection re")


def test_check_judges_every_fqdn_against_every_nameserver(forwarded: TinyDns, public: TinyDns) -> None:
    expected = {BLOB: ["10.20.1.5"], "vault.eus.siterecovery.windowsazure.com": ["10.20.1.6"]}
    results = check(expected, [("127.0.0.1", forwarded.port), ("127.0.0.1", public.port)])
    assert [(r.fqdn, r.nameserver, r.ok, r.got) for r in results] == [
        (BLOB, f"127.0.0.1:{forwarded.port}", True, ["10.20.1.5"]),
        (BLOB, f"127.0.0.1:{public.port}", False, ["20.60.1.4"]),
        ("vault.eus.siterecovery.windowsazure.com", f"127.0.0.1:{forwarded.port}", True, ["10.20.1.6"]),
        ("vault.eus.siterecovery.windowsazure.com", f"127.0.0.1:{public.port}", False, []),
    ]
    assert results[1].problem == "resolved to public address 20.60.1.4, the service's public endpoint"
    assert "conditional forwarder for blob.core.windows.net" in (results[1].fix or "")
    assert results[3].problem == (
        f"no answer: NXDOMAIN: 127.0.0.1:{public.port} says vault.eus.siterecovery.windowsazure.com does not exist"
    )
    assert "eus.siterecovery.windowsazure.com" in (results[3].fix or "")


def test_check_flags_a_private_ip_that_is_not_the_endpoints(forwarded: TinyDns) -> None:
    (result,) = check({"two.test": ["10.20.1.4"]}, [("127.0.0.1", forwarded.port)])
    assert not result.ok and result.problem == "resolved to 10.20.1.9, not the private endpoint's 10.20.1.4"


def test_check_timeouts_run_concurrently(forwarded: TinyDns) -> None:
    expected = {"silent.test": ["10.0.0.1"], "silent2.test": ["10.0.0.1"], "plain.test": ["10.20.1.4"]}
    started = time.monotonic()
    results = check(expected, [("127.0.0.1", forwarded.port)], timeout=0.4)
    # Two silent names, but their timeouts overlap instead of adding up (0.8 s in a row).
    assert time.monotonic() - started < 0.75
    assert [(r.fqdn, r.ok) for r in results] == [("silent.test", False), ("silent2.test", False), ("plain.test", True)]
    assert results[0].problem == f"no answer: timeout: no reply from 127.0.0.1:{forwarded.port} within 0.4 s"
    assert (results[0].fix or "").startswith(f"make sure the appliance can reach 127.0.0.1:{forwarded.port}")


def test_check_without_nameservers_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no nameserver to check DNS against"):
        check({BLOB: ["10.20.1.5"]}, [])
