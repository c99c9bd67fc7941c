"""The one seam between plmigrate and Azure: where to send calls, with which credential.

`Target` is plain, picklable configuration (it travels into Prefect tasks); `clients(target)`
builds and caches the SDK clients for it. Against real Azure: `DefaultAzureCredential`, no base
URL. Against the sandbox: its HTTPS URL, its CA file and its token. Nothing else differs, so the
code under test is the code that runs against Azure. Tasks never build SDK clients themselves.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
from azure.core.pipeline.policies import HTTPPolicy, RetryPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
from urllib3.util.retry import Retry

from plmigrate.sandbox.server import SandboxInfo

# The Site Recovery API version every Site Recovery call uses: the client is built with it, and the
# lifecycle's raw requests (lists read as ARM's JSON, tasks/replication.py) send the same, so an SDK
# upgrade cannot leave the two on different versions. azure-mgmt-recoveryservicessiterecovery
# 2.0.0's own default, whose models (InMageRcm) the request bodies follow.
SITE_RECOVERY_API_VERSION = "2025-08-01"


class SandboxCredential:
    """An azure-core TokenCredential that hands out the sandbox's static bearer token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token, int(time.time()) + 3600)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:  # never show the token
        return "SandboxCredential(token=***)"


@dataclass(frozen=True)
class Target:
    """Where ARM calls go. `base_url=None` means public Azure through DefaultAzureCredential."""

    subscription_id: str
    base_url: str | None = None
    ca_file: str | None = None
    token: str | None = field(default=None, repr=False)
    # The SDK's LRO polling default is 30 s; the sandbox answers in milliseconds and sends
    # Retry-After when it is slow on purpose, which wins over this value.
    polling_interval: float = 30.0
    dns_host: str | None = None  # the sandbox's on-prem DNS; None against Azure
    dns_port: int = 53
    admin_url: str | None = None
    info_file: str | None = None  # the sandbox's info file, for the commands a person is told to run
    # Client-side pacing of ARM calls (see ArmPacer); the business unit's limits set them.
    max_in_flight: int = 8
    reads_per_second: float = 20.0
    writes_per_second: float = 8.0
    burst: int = 50
    # The business unit's timeouts.operation_seconds: no ARM call (with azure-core's retries and
    # the Retry-After waits they honour) and no long-running operation runs past it.
    operation_seconds: float = 1800.0

    def timed(self, timeouts: Any) -> Target:
        """This target with a business unit's deadlines (plmigrate.model.Timeouts)."""
        return dataclasses.replace(self, operation_seconds=timeouts.operation_seconds)

    def paced(self, limits: Any) -> Target:
        """This target with a business unit's ARM limits (plmigrate.model.Limits)."""
        return dataclasses.replace(
            self,
            max_in_flight=limits.arm_concurrency,
            reads_per_second=limits.arm_reads_per_second,
            writes_per_second=limits.arm_writes_per_second,
            burst=limits.arm_burst,
        )

    @property
    def is_sandbox(self) -> bool:
        return self.base_url is not None

    def appliance_nameservers(self, configured: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """The on-prem nameservers an appliance resolves with: those configured for it, or, on the
        sandbox, the sandbox's DNS server (which plays the on-prem DNS of the scenario)."""
        if configured:
            return configured
        if self.dns_host:
            return [(self.dns_host, self.dns_port)]
        raise ValueError(
            "appliances[].nameservers: no nameservers configured; list the on-prem DNS servers the appliance uses"
        )

    @classmethod
    def sandbox(cls, info: SandboxInfo | str | Path) -> Target:
        info_file = None
        if not isinstance(info, SandboxInfo):
            info_file = str(info)
            info = SandboxInfo.read(info)
        return cls(
            subscription_id=info.subscription_id,
            base_url=info.arm_url,
            ca_file=info.ca_file,
            token=info.token,
            polling_interval=0.0,
            dns_host=info.dns_host,
            dns_port=info.dns_port,
            admin_url=info.admin_url,
            info_file=info_file,
        )

    @classmethod
    def azure(cls, subscription_id: str) -> Target:
        return cls(subscription_id=subscription_id)


class ArmBudget:
    """This process's ARM budget for one target: at most `max_in_flight` calls at once, and token
    buckets for reads and writes like ARM's own, a little below its refill rates. azure-core's
    retry policy still honours Retry-After if ARM throttles anyway (another tool, same principal).
    Prefect's global concurrency limits are not used for this: their waiters back off for up to
    30 s (docs/design.md)."""

    def __init__(self, target: Target) -> None:
        self.in_flight = threading.BoundedSemaphore(target.max_in_flight)
        self._lock = threading.Lock()
        self._rates = {"reads": target.reads_per_second, "writes": target.writes_per_second}
        self._burst = float(target.burst)
        self._tokens = {"reads": self._burst, "writes": self._burst}
        self._stamp = time.monotonic()

    def wait_for_token(self, method: str) -> None:
        kind = "reads" if method in {"GET", "HEAD"} else "writes"
        while True:
            with self._lock:
                now = time.monotonic()
                for k, rate in self._rates.items():
                    self._tokens[k] = min(self._burst, self._tokens[k] + (now - self._stamp) * rate)
                self._stamp = now
                if self._tokens[kind] >= 1:
                    self._tokens[kind] -= 1
                    return
                wait = (1 - self._tokens[kind]) / self._rates[kind]
            time.sleep(wait)


class ArmPacer(HTTPPolicy):  # type: ignore[type-arg]
    """One client's gate to the shared `ArmBudget` (a policy instance belongs to one pipeline).
    Placed per retry, so retried attempts are paced too."""

    def __init__(self, budget: ArmBudget) -> None:
        super().__init__()
        self.budget = budget

    def send(self, request: Any) -> Any:
        self.budget.wait_for_token(request.http_request.method)
        with self.budget.in_flight:
            return self.next.send(request)


# A Retry-After this long is worth a line in the run's log: the run is waiting, not hanging.
LONG_RETRY_AFTER_SECONDS = 10.0


def _run_logger() -> Any:
    import logging

    try:
        from prefect import get_run_logger

        logger = get_run_logger()
    except Exception:  # outside a flow or task run (CLI checks, tests of the client)
        return logging.getLogger("plmigrate.azure")
    # prefect.logging.disable_run_logger hands out a disabled logger: keep the line anyway.
    return logging.getLogger("plmigrate.azure") if getattr(logger, "disabled", False) else logger


class DeadlineRetryPolicy(RetryPolicy):
    """azure-core's retry policy (408/429/5xx, Retry-After honoured), bounded by a deadline per
    call: `timeout` (the business unit's timeouts.operation_seconds) covers every attempt and
    every wait between them. A Retry-After that would end past the deadline fails the call at
    once (a StepFailed naming the call and the wait) instead of sleeping through it; a long one
    that fits is logged, so a run waiting five minutes on ARM says so."""

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["deadline"] = time.monotonic() + settings["timeout"]
        return settings

    def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
        retry_after = self.get_retry_after(response) if response is not None else None
        if retry_after:
            request = response.http_request
            what = f"{request.method} {request.url.split('?')[0]}"
            left = settings["deadline"] - time.monotonic()
            if retry_after > left:
                from plmigrate.errors import StepFailed

                raise StepFailed(
                    step="ARM call",
                    resource=what,
                    reason=f"ARM answered {response.http_response.status_code} with Retry-After {retry_after:.0f} s, "
                    f"past the {settings['timeout']:.0f} s deadline of the call ({max(0.0, left):.0f} s left)",
                    fix="ARM is throttling or busy: re-run later (nothing is written twice), or raise "
                    "timeouts.operation_seconds in the business-unit file to wait it out",
                )
            if retry_after >= LONG_RETRY_AFTER_SECONDS:
                _run_logger().warning(
                    "ARM answered %s to %s with Retry-After %.0f s: waiting (%.0f s left of the call's deadline)",
                    response.http_response.status_code,
                    what,
                    retry_after,
                    left,
                )
        super().sleep(settings, transport, response)


@dataclass(frozen=True)
class AzureClients:
    resources: ResourceManagementClient
    network: NetworkManagementClient
    privatedns: PrivateDnsManagementClient
    storage: StorageManagementClient
    recoveryservices: RecoveryServicesClient
    authorization: AuthorizationManagementClient
    # Site Recovery (replication fabrics, protected items, jobs); Microsoft.OffAzure's discovered
    # machines have no SDK client and are read through this client's pipeline (`send_request`).
    siterecovery: SiteRecoveryManagementClient
    credential: TokenCredential


def credential_for(target: Target) -> TokenCredential:
    if target.is_sandbox:
        return SandboxCredential(target.token or "")
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


_CLIENTS_LOCK = threading.Lock()


def clients(target: Target) -> AzureClients:
    """The SDK clients for a target, built once per process (they are thread-safe).

    Built under a lock: a flow's first task runs start together, and each would otherwise build a
    set of its own, with its own ArmBudget (so the first calls were not paced together) and,
    against Azure, its own DefaultAzureCredential fetching its own token."""
    with _CLIENTS_LOCK:
        return _cached_clients(target)


@functools.lru_cache(maxsize=8)
def _cached_clients(target: Target) -> AzureClients:
    credential = credential_for(target)
    kwargs: dict[str, Any] = {"polling_interval": target.polling_interval}
    if target.base_url:
        # By keyword: AuthorizationManagementClient takes api_version as its third positional.
        kwargs["base_url"] = target.base_url
    verify = {"connection_verify": target.ca_file} if target.ca_file else {}
    session = _arm_session(target)
    budget = ArmBudget(target)

    def make(client_class: Any, **pinned: Any) -> Any:
        return client_class(
            credential,
            target.subscription_id,
            transport=RequestsTransport(session=session, session_owner=False, **verify),
            per_retry_policies=[ArmPacer(budget)],
            retry_policy=DeadlineRetryPolicy(timeout=target.operation_seconds),
            **kwargs,
            **pinned,
        )

    return AzureClients(
        resources=make(ResourceManagementClient),
        network=make(NetworkManagementClient),
        privatedns=make(PrivateDnsManagementClient),
        storage=make(StorageManagementClient),
        recoveryservices=make(RecoveryServicesClient),
        authorization=make(AuthorizationManagementClient),
        siterecovery=make(SiteRecoveryManagementClient, api_version=SITE_RECOVERY_API_VERSION),
        credential=credential,
    )


def _arm_session(target: Target) -> requests.Session:
    """One HTTP session, so one connection pool, for all the clients of a target. They all call
    the same ARM host; with a session each (azure-core's default), the first call of each client
    in each thread opened a connection of its own: 16 TLS handshakes in a landing zone instead of
    7, on its critical path (vault → endpoint → zone group go through three clients), where
    against Azure each costs round trips. The pool holds as many connections as the pacer lets
    calls be in flight. Retries are azure-core's (honouring Retry-After, deadline-bound), so
    urllib3's are off, as in the sessions azure-core makes itself."""
    session = requests.Session()
    adapter = HTTPAdapter(
        pool_maxsize=max(DEFAULT_POOLSIZE, target.max_in_flight),
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    for scheme in ("https://", "http://"):
        session.mount(scheme, adapter)
    return session


# -- targets by name ---------------------------------------------------------------------------
DEFAULT_SANDBOX_INFO = ".sandbox/info.json"


def resolve_target(spec: str, subscription_id: str) -> Target:
    """`sandbox[:INFO_FILE]` or `azure`. Against Azure, the subscription is the business unit's;
    against the sandbox, the business unit's subscription must be the sandbox's, and the sandbox
    must answer now (a stopped one is said in seconds, not after the SDK's retries)."""
    from plmigrate.errors import InputError, TargetUnavailable
    from plmigrate.sandbox.serve import AdminClient, InvalidInput

    kind, _, rest = spec.partition(":")
    if kind == "azure":
        return Target.azure(subscription_id)
    if kind == "sandbox":
        path = Path(rest or DEFAULT_SANDBOX_INFO)
        if not path.exists():
            raise TargetUnavailable(
                f"target: no sandbox info file at {path}; start one with "
                f"`plmigrate sandbox serve --info {path}` or pass --azure"
            )
        try:
            AdminClient.from_file(path).ping()
        except InvalidInput as exc:
            raise TargetUnavailable(f"target: {exc}") from None
        target = Target.sandbox(path)
        if target.subscription_id.lower() != subscription_id.lower():
            raise InputError(
                [
                    f"subscription_id: the business unit names {subscription_id} but the sandbox serves "
                    f"{target.subscription_id} — fix the business-unit file or the scenario"
                ],
                "target",
            )
        return target
    raise InputError([f"{spec!r} is neither 'azure' nor 'sandbox[:INFO_FILE]' — use one of those"], "target")


# -- error classification ----------------------------------------------------------------------
# ARM codes worth another try: the platform's own hiccups, never the caller's mistakes.
TRANSIENT_CODES = frozenset(
    {
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "GatewayTimeout",
        "RetryableError",
        "OperationTimedOut",
        "TooManyRequests",
        "SubscriptionRequestsThrottled",
        "AnotherOperationInProgress",
        # A resource the write references (or, for storage, the account itself) is still in an
        # operation: the same write succeeds once that operation ends.
        "ReferencedResourceNotProvisioned",
        "StorageAccountOperationInProgress",
        "Canceled",
    }
)


def arm_error(exc: BaseException) -> tuple[str, str]:
    """(ARM error code, message) of an SDK exception; for a failed LRO, from the operation's body."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None)
        message = getattr(getattr(exc, "error", None), "message", None)
        if not code and exc.response is not None:
            try:
                body = exc.response.json()
                error = body.get("error") or {}
                code, message = error.get("code"), error.get("message")
            except Exception:  # not JSON: keep the SDK's own message
                pass
        return code or f"HTTP{exc.status_code}", message or exc.message
    return type(exc).__name__, str(exc)


def is_transient(exc: BaseException) -> bool:
    """Whether an SDK error is worth retrying: connection errors, 408/429/5xx, and long-running
    operations that failed with a platform-side code."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, HttpResponseError):
        if exc.status_code in {408, 429} or (exc.status_code or 0) >= 500:
            return True
        return arm_error(exc)[0] in TRANSIENT_CODES
    return False


def rest(model: Any) -> dict[str, Any]:
    """An SDK model as ARM's JSON (camelCase keys, read-only fields kept), whichever generator
    made its package: msrest-style models (network, privatedns, ...) serialize themselves;
    TypeSpec-style models (storage 25.x) are mappings of REST keys already."""
    if model is None:
        return {}
    if hasattr(model, "serialize"):
        return model.serialize(keep_readonly=True)
    if hasattr(model, "as_dict"):
        return model.as_dict()
    return dict(model)
