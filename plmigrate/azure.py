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
