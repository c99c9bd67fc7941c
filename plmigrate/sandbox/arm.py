"""The ARM wire vocabulary the sandbox speaks: requests, responses, the error envelope, routing.

Every provider module registers handlers on a `Router`; a handler takes an `ArmRequest` and returns
an `ArmResponse` or raises `ArmError`, which the server turns into ARM's error envelope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plmigrate.sandbox.world import World


class ArmError(Exception):
    """An ARM error reply: `{"error": {"code", "message", "details"}}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def not_found(resource_id: str) -> ArmError:
    """ARM's 404 for a missing resource, worded as ARM words it."""
    parsed = parse_resource_id(resource_id)
    rtype = parsed.get("type", "resource")
    name = parsed.get("name", resource_id)
    group = parsed.get("resourceGroup")
    where = f" under resource group '{group}'" if group else ""
    return ArmError(404, "ResourceNotFound", f"The Resource '{rtype}/{name}'{where} was not found.")


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


@dataclass
class ArmRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # keys lower-cased
    body: Any
    world: World
    base_url: str  # https://127.0.0.1:PORT, for absolute operation URLs
    principal_id: str
    params: dict[str, str] = field(default_factory=dict)
    # Set by the server for long-running calls: an injected LRO failure ("Code|message") and the
    # configured latency, which `lro.accepted` turns into a slow or failing operation.
    lro_fault: str | None = None
    latency: float = 0.0

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")

    def json_body(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise bad_request("InvalidRequestContent", "The request content was invalid and could not be deserialized.")
        return self.body


@dataclass
class ArmResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ArmRequest], ArmResponse]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_weight: int
    handler: Handler
    lro: bool


_PLACEHOLDER = re.compile(r"\{(\w+)(:path)?\}")


class Router:
    """Case-insensitive path templates. `{name}` matches one segment, `{name:path}` one or more.

    When several routes match, the one with the most literal characters wins, so
    `/providers/Microsoft.Network/privateEndpoints/{name}` beats a generic `{scope:path}` route.
    """

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, *, lro: bool = False) -> None:
        regex, pos, literal = "", 0, 0
        for match in _PLACEHOLDER.finditer(template):
            chunk = template[pos : match.start()]
            regex += re.escape(chunk)
            literal += len(chunk)
            regex += f"(?P<{match.group(1)}>.+?)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
            pos = match.end()
        tail = template[pos:]
        regex += re.escape(tail)
        literal += len(tail)
        pattern = re.compile(f"^{regex}/?$", re.IGNORECASE)
        self.routes.append(Route(method.upper(), template, pattern, literal, handler, lro))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        best: tuple[Route, dict[str, str]] | None = None
        path_matched = False
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            path_matched = True
            if route.method != method.upper():
                continue
            if best is None or route.literal_weight > best[0].literal_weight:
                best = (route, found.groupdict())
        if best is None and path_matched:
            raise ArmError(405, "MethodNotAllowed", f"The requested method '{method}' is not allowed for '{path}'.")
        return best


def parse_resource_id(resource_id: str) -> dict[str, str]:
    """Split an ARM ID into subscription, resourceGroup, namespace, type (full, e.g.
    `Microsoft.Network/privateEndpoints/privateDnsZoneGroups`) and name (last segment)."""
    parts = [p for p in resource_id.split("/") if p]
    out: dict[str, str] = {}
    lower = [p.lower() for p in parts]
    if "subscriptions" in lower:
        i = lower.index("subscriptions")
        if i + 1 < len(parts):
            out["subscription"] = parts[i + 1]
    if "resourcegroups" in lower:
        i = lower.index("resourcegroups")
        if i + 1 < len(parts):
            out["resourceGroup"] = parts[i + 1]
    if "providers" in lower:
        i = len(lower) - 1 - lower[::-1].index("providers")
        rest = parts[i + 1 :]
        if rest:
            out["namespace"] = rest[0]
            types = rest[1::2]
            names = rest[2::2]
            out["type"] = "/".join([rest[0], *types])
            if names:
                out["name"] = names[-1]
    elif "resourcegroups" in lower and "resourceGroup" in out:
        out["type"] = "Microsoft.Resources/resourceGroups"
        out["name"] = out["resourceGroup"]
    elif "subscription" in out:
        out["type"] = "Microsoft.Resources/subscriptions"
        out["name"] = out["subscription"]
    return out


def resource_type_of(path: str) -> str:
    """The resource type a request path addresses, for counters, faults and throttling."""
    return parse_resource_id(path).get("type", "unknown")
