"""The one seam between plmigrate and Azure: where to send calls, with which credential.

`Target` is plain, picklable configuration (it travels into Prefect tasks); `clients(target)`
builds and caches the SDK clients for it. Against real Azure: `DefaultAzureCredential`, no base
URL. Against the sandbox: its HTTPS URL, its CA file and its token. Nothing else differs, so the
code under test is the code that runs against Azure. Tasks never build SDK clients themselves.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient

from plmigrate.sandbox.server import SandboxInfo


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
        if not isinstance(info, SandboxInfo):
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
        )

    @classmethod
    def azure(cls, subscription_id: str) -> Target:
        return cls(subscription_id=subscription_id)


@dataclass(frozen=True)
class AzureClients:
    resources: ResourceManagementClient
    network: NetworkManagementClient
    privatedns: PrivateDnsManagementClient
    storage: StorageManagementClient
    recoveryservices: RecoveryServicesClient
    authorization: AuthorizationManagementClient
    credential: TokenCredential


def credential_for(target: Target) -> TokenCredential:
    if target.is_sandbox:
        return SandboxCredential(target.token or "")
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@functools.lru_cache(maxsize=8)
def clients(target: Target) -> AzureClients:
    """The SDK clients for a target, built once per process (they are thread-safe)."""
    credential = credential_for(target)
    kwargs: dict[str, Any] = {"polling_interval": target.polling_interval}
    if target.base_url:
        # By keyword: AuthorizationManagementClient takes api_version as its third positional.
        kwargs["base_url"] = target.base_url
    if target.ca_file:
        kwargs["connection_verify"] = target.ca_file
    sub = target.subscription_id
    return AzureClients(
        resources=ResourceManagementClient(credential, sub, **kwargs),
        network=NetworkManagementClient(credential, sub, **kwargs),
        privatedns=PrivateDnsManagementClient(credential, sub, **kwargs),
        storage=StorageManagementClient(credential, sub, **kwargs),
        recoveryservices=RecoveryServicesClient(credential, sub, **kwargs),
        authorization=AuthorizationManagementClient(credential, sub, **kwargs),
        credential=credential,
    )


# -- targets by name ---------------------------------------------------------------------------
DEFAULT_SANDBOX_INFO = ".sandbox/info.json"


def resolve_target(spec: str, subscription_id: str) -> Target:
    """`sandbox[:INFO_FILE]` or `azure`. Against Azure, the subscription is the business unit's;
    against the sandbox, the business unit's subscription must be the sandbox's."""
    kind, _, rest = spec.partition(":")
    if kind == "azure":
        return Target.azure(subscription_id)
    if kind == "sandbox":
        path = Path(rest or DEFAULT_SANDBOX_INFO)
        if not path.exists():
            raise FileNotFoundError(
                f"target: no sandbox info file at {path}; start one with "
                f"`plmigrate sandbox serve --info {path}` or pass --azure"
            )
        target = Target.sandbox(path)
        if target.subscription_id.lower() != subscription_id.lower():
            raise ValueError(
                f"subscription_id: the business unit names {subscription_id} but the sandbox serves "
                f"{target.subscription_id}; fix the business-unit file or the scenario"
            )
        return target
    raise ValueError(f"target: {spec!r} is neither 'azure' nor 'sandbox[:INFO_FILE]'")


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
