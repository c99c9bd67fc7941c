"""Steps 2 and 4b: from the appliance's vantage point (its on-prem nameservers), every FQDN of a
private endpoint must resolve to the endpoint's private IP. DNS propagation takes minutes, so the
check repeats with backoff until its timeout, then fails naming each bad answer and the fix."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate import dnscheck
from plmigrate.errors import StepFailed
from plmigrate.facts import EndpointFacts
from plmigrate.rules import DnsResult, dns_remediation


@task(name="verify-dns", cache_policy=NO_CACHE)
def verify_dns(
    endpoint: EndpointFacts,
    nameservers: list[tuple[str, int]],
    region: str,
    timeout_seconds: float,
    retry_seconds: float,
    what: str,
) -> list[DnsResult]:
    """Every FQDN the endpoint lists (its customDnsConfigs) resolves to its private IPs. Takes the
    endpoint itself so the flow can hand over the endpoint's future and check as soon as its
    zone group is done."""
    logger = get_run_logger()
    expected = endpoint.dns
    deadline = time.monotonic() + timeout_seconds
    delay = retry_seconds
    while True:
        results = dnscheck.check(expected, nameservers)
        bad = [r for r in results if not r.ok]
        if not bad:
            logger.info("DNS for %s: %d answers, all private and right", what, len(results))
            return results
        if time.monotonic() + delay > deadline:
            raise StepFailed(
                step="verify DNS",
                resource=what,
                reason=f"{len(bad)} of {len(results)} answers wrong after {timeout_seconds:.0f} s",
                fix=dns_remediation(bad, region),
            )
        logger.info(
            "DNS for %s: %d of %d answers not right yet; re-checking in %.0f s", what, len(bad), len(results), delay
        )
        time.sleep(delay)
        delay = min(delay * 2, 60)
