"""DNS as the appliance sees it: ask a named nameserver directly (not this machine's resolver) and judge
each answer with `rules.dns_verdict`. Failures (NXDOMAIN, SERVFAIL, timeouts) are answers, not exceptions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from plmigrate.errors import InputError
from plmigrate.rules import DnsAnswer, DnsResult, dns_verdict

__all__ = ["check", "resolve"]

_MAX_CNAMES = 16  # a longer chain is a loop or a misconfiguration, not an answer


def resolve(fqdn: str, host: str, port: int = 53, timeout: float = 2.0, tcp: bool = False) -> DnsAnswer:
    """The A records `host:port` gives for `fqdn` after following the CNAME chain in its answer.

    UDP first (TCP when asked), retried over TCP when the reply is truncated. The nameserver must recurse, as
    on-prem DNS does for its clients: only the chain inside its answer is followed, nothing is asked elsewhere.
    """
    nameserver = f"{host}:{port}"
    answer = DnsAnswer(fqdn=fqdn.rstrip("."), nameserver=nameserver)
    try:
        query = dns.message.make_query(fqdn, dns.rdatatype.A)
        if tcp:
            response = dns.query.tcp(query, host, timeout=timeout, port=port)
        else:
            try:
                response = dns.query.udp(
                    query, host, timeout=timeout, port=port, raise_on_truncation=True, ignore_unexpected=True
                )
            except dns.message.Truncated:
                response = dns.query.tcp(query, host, timeout=timeout, port=port)
    except dns.exception.Timeout:
        answer.error = f"timeout: no reply from {nameserver} within {timeout:g} s"
        return answer
    except (OSError, EOFError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        answer.error = f"unreachable: {nameserver} ({reason})"
        return answer
    except dns.exception.DNSException as error:
        answer.error = f"bad reply from {nameserver}: {error}"
        return answer

    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        answer.error = f"NXDOMAIN: {nameserver} says {answer.fqdn} does not exist"
        return answer
    if rcode != dns.rcode.NOERROR:
        answer.error = f"{dns.rcode.to_text(rcode)}: {nameserver} could not answer for {answer.fqdn}"
        return answer

    name = query.question[0].name
    seen = {name}
    for _ in range(_MAX_CNAMES):
        cname = response.get_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is None:
            break
        name = cname[0].target
        if name in seen:
            answer.error = f"CNAME loop at {name.to_text(omit_final_dot=True)}"
            return answer
        seen.add(name)
        answer.cname_chain.append(name.to_text(omit_final_dot=True))
    else:
        answer.error = f"CNAME chain longer than {_MAX_CNAMES}"
        return answer
    records = response.get_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.A)
    answer.ips = [record.address for record in records] if records is not None else []
    return answer


def check(
    expected: dict[str, list[str]],
    nameservers: list[tuple[str, int]],
    timeout: float = 2.0,
    max_workers: int = 16,
) -> list[DnsResult]:
    """Every FQDN (mapped to its private endpoint IPs) resolved against every nameserver and judged; results in
    the order FQDN by FQDN, nameserver by nameserver. Queries run concurrently so timeouts do not add up."""
    if not nameservers:
        # Checking against nobody would pass vacuously.
        raise InputError(
            ["appliances[].nameservers: no nameserver to check DNS against — list the appliance's DNS servers"]
        )
    pairs = [(fqdn, host, port) for fqdn in expected for host, port in nameservers]
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(pairs))), thread_name_prefix="dnscheck") as pool:
        answers = list(pool.map(lambda pair: resolve(pair[0], pair[1], pair[2], timeout), pairs))
    return [dns_verdict(answer, expected[fqdn]) for answer, (fqdn, _, _) in zip(answers, pairs, strict=True)]
