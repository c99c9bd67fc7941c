"""The sandbox's HTTP core: authentication, routing, the error envelope, throttling, faults."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.rules import ROLE_CONTRIBUTOR
from plmigrate.sandbox import Sandbox


def _get(url: str, ca_file: str, token: str | None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_unauthenticated_calls_get_401_with_a_challenge(sandbox: Sandbox) -> None:
    url = (
        sandbox.info.arm_url
        + f"/subscriptions/{sandbox.info.subscription_id}/resourcegroups/rg-network-hub?api-version=2025-04-01"
    )
    status, headers, body = _get(url, sandbox.info.ca_file, None)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert b"AuthenticationFailed" in body
    status, _, body = _get(url, sandbox.info.ca_file, "not-the-token")
    assert status == 401 and b"InvalidAuthenticationToken" in body
    status, _, _ = _get(url, sandbox.info.ca_file, sandbox.info.token)
    assert status == 200


def test_tls_is_verified_against_the_sandbox_ca(sandbox: Sandbox) -> None:
    url = sandbox.info.arm_url + "/subscriptions/x?api-version=1"
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(url, context=ssl.create_default_context())


def test_responses_are_not_held_back_by_nagle(sandbox: Sandbox) -> None:
    # Headers and body go out as two writes; with Nagle on, the body waited ~40 ms for the
    # client's delayed ACK of the headers, a latency ARM does not have (docs/performance.md).
    # The server-side socket of a live connection must have TCP_NODELAY.
    assert sandbox.https is not None
    seen: list[int] = []
    real = sandbox.https.context

    class Spy:  # the server's TLS context, noting each accepted socket's option as TLS starts
        def wrap_socket(self, sock: socket.socket, **kwargs: object) -> ssl.SSLSocket:
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            return real.wrap_socket(sock, **kwargs)  # type: ignore[arg-type]

    sandbox.https.context = Spy()  # type: ignore[assignment]
    try:
        context = ssl.create_default_context(cafile=sandbox.info.ca_file)
        with pytest.raises(urllib.error.HTTPError):  # 401 without a token: the connection is what counts
            urllib.request.urlopen(sandbox.info.arm_url + "/subscriptions", context=context, timeout=10)
    finally:
        sandbox.https.context = real
    assert seen and all(seen), seen


def test_resource_groups_create_get_and_case_insensitive_paths(azure: AzureClients) -> None:
    created = azure.resources.resource_groups.create_or_update("rg-New", {"location": "West Europe"})
    assert created.location == "westeurope"
    again = azure.resources.resource_groups.create_or_update(
        "RG-NEW", {"location": "westeurope", "tags": {"bu": "fin"}}
    )
    assert again.name == "rg-New" and again.tags == {"bu": "fin"}
    assert azure.resources.resource_groups.get("rg-new").id.endswith("/resourceGroups/rg-New")
    assert azure.resources.resource_groups.check_existence("rg-new") is True
    assert azure.resources.resource_groups.check_existence("rg-missing") is False
    with pytest.raises(ResourceNotFoundError) as info:
        azure.resources.resource_groups.get("rg-missing")
    assert info.value.error.code == "ResourceGroupNotFound"


def test_throttling_answers_429_with_retry_after_and_remaining_headers(make_sandbox) -> None:
    box = make_sandbox(
        {
            "throttling": {"reads": {"burst": 3, "per_second": 0.5}},
            "resource_groups": [{"name": "rg", "location": "eastus"}],
        }
    )
    url = box.info.arm_url + f"/subscriptions/{box.info.subscription_id}/resourcegroups/rg?api-version=2025-04-01"
    seen = [_get(url, box.info.ca_file, box.info.token) for _ in range(4)]
    assert [s for s, _, _ in seen] == [200, 200, 200, 429]
    assert seen[0][1]["x-ms-ratelimit-remaining-subscription-reads"] == "2"
    assert int(seen[3][1]["Retry-After"]) >= 1
    assert b"SubscriptionRequestsThrottled" in seen[3][2]


def test_injected_fault_sequence_is_retried_by_azure_core(make_sandbox) -> None:
    box = make_sandbox(
        {
            "resource_groups": [{"name": "rg", "location": "eastus"}],
            "faults": [
                {
                    "method": "GET",
                    "resource_type": "Microsoft.Resources/resourceGroups",
                    "status": 503,
                    "code": "ServiceUnavailable",
                    "sequence": [True, True],
                }
            ],
        }
    )
    azure = clients(Target.sandbox(box.info))
    # retry_backoff_factor is azure-core's default (0.8 s): two retries cost a few seconds.
    assert azure.resources.resource_groups.get("rg").name == "rg"
    report = box.app.world.call_report()
    statuses = [(r["status"], r["count"]) for r in report["calls"] if r["method"] == "GET"]
    assert statuses == [(200, 1), (503, 2)]


def test_non_transient_fault_surfaces_the_arm_code(make_sandbox) -> None:
    box = make_sandbox({"faults": [{"method": "PUT", "status": 403, "code": "AuthorizationFailed", "message": "no"}]})
    azure = clients(Target.sandbox(box.info))
    with pytest.raises(HttpResponseError) as info:
        azure.resources.resource_groups.create_or_update("rg", {"location": "eastus"})
    assert info.value.status_code == 403 and info.value.error.code == "AuthorizationFailed"


# -- paging ----------------------------------------------------------------------------------------
def _seed_groups(sandbox: Sandbox, count: int) -> list[str]:
    sub = sandbox.info.subscription_id
    names = [f"rg-page-{i:03d}" for i in range(count)]
    for name in names:
        sandbox.world.put(
            {
                "id": f"/subscriptions/{sub}/resourceGroups/{name}",
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": "westeurope",
                "properties": {"provisioningState": "Succeeded"},
            }
        )
    return names


def test_lists_page_at_100_with_an_absolute_next_link(sandbox: Sandbox, azure: AzureClients) -> None:
    before = {g.name for g in azure.resources.resource_groups.list()}
    names = _seed_groups(sandbox, 250)
    url = sandbox.info.arm_url + f"/subscriptions/{sandbox.info.subscription_id}/resourcegroups?api-version=2025-04-01"
    status, _, body = _get(url, sandbox.info.ca_file, sandbox.info.token)
    first = json.loads(body)
    assert status == 200 and len(first["value"]) == 100
    assert first["nextLink"].startswith(sandbox.info.arm_url + "/subscriptions/")
    assert "api-version=2025-04-01" in first["nextLink"] and "%24skipToken=" in first["nextLink"]
    pages = list(azure.resources.resource_groups.list().by_page())
    sizes = [len(list(page)) for page in pages]
    assert sizes[:-1] == [100] * (len(sizes) - 1) and sum(sizes) == len(before) + 250
    listed = [g.name for g in azure.resources.resource_groups.list()]
    assert len(listed) == len(set(listed)) and set(names) <= set(listed)


def test_a_walk_continues_after_the_last_id_when_items_go_away_between_pages(
    sandbox: Sandbox, azure: AzureClients
) -> None:
    names = _seed_groups(sandbox, 150)
    pages = azure.resources.resource_groups.list().by_page()
    first = [g.name for g in next(pages)]
    # Deleting what the first page already showed must not make the walk skip anything unseen.
    for name in first[:50]:
        sandbox.world.delete(f"/subscriptions/{sandbox.info.subscription_id}/resourceGroups/{name}")
    rest = [g.name for page in pages for g in page]
    assert not set(first) & set(rest)
    assert set(names) <= set(first) | set(rest)


def test_a_forged_skip_token_is_a_400(sandbox: Sandbox) -> None:
    url = (
        sandbox.info.arm_url
        + f"/subscriptions/{sandbox.info.subscription_id}/resourcegroups?api-version=2025-04-01&%24skipToken=%%%"
    )
    status, _, body = _get(url, sandbox.info.ca_file, sandbox.info.token)
    assert status == 400 and json.loads(body)["error"]["code"] == "InvalidSkipToken"


def test_the_projects_own_role_read_follows_next_links_with_its_filter(sandbox: Sandbox) -> None:
    """tasks/roles reads a principal's assignments with `$filter`; the one it needs sits on page 2."""
    from plmigrate.sandbox.providers.authorization import make_assignment
    from tasks.roles import _assigned_roles

    sub = sandbox.info.subscription_id
    account = f"/subscriptions/{sub}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/stx"
    principal = "33333333-0000-0000-0000-000000000001"
    reader = (
        f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    )
    contributor = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_CONTRIBUTOR}"
    for i in range(150):  # below the account: their IDs sort before the account's own
        scope = f"{account}/blobServices/default/containers/c{i:03d}"
        sandbox.world.put(
            make_assignment(
                sandbox.world,
                scope,
                f"{i:08d}-0000-0000-0000-000000000000",
                reader,
                principal,
                "ServicePrincipal",
                principal,
            )
        )
    mine = make_assignment(
        sandbox.world,
        account,
        "ffffffff-0000-0000-0000-000000000000",
        contributor,
        principal,
        "ServicePrincipal",
        principal,
    )
    sandbox.world.put(mine)
    # Someone else's, at the account: a page 2 that lost the filter would show it.
    other = "44444444-0000-0000-0000-000000000001"
    sandbox.world.put(
        make_assignment(sandbox.world, account, "eeeeeeee-0000-0000-0000-000000000000", reader, other, "User", other)
    )
    assert _assigned_roles(Target.sandbox(sandbox.info), account, principal) == {ROLE_CONTRIBUTOR: mine["id"]}
    pages = [
        r
        for r in sandbox.world.call_report()["calls"]
        if r["method"] == "GET" and r["resource_type"] == "Microsoft.Authorization/roleAssignments"
    ]
    assert sum(r["count"] for r in pages) == 2  # 151 assignments: two pages, the filter kept on the second
