"""The ARM wire vocabulary the sandbox speaks: requests, responses, the error envelope, routing.

Every provider module registers handlers on a `Router`; a handler takes an `ArmRequest` and returns
an `ArmResponse` or raises `ArmError`, which the server turns into ARM's error envelope.
"""

from __future__ import annotations

import base64
import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

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


# -- paging ----------------------------------------------------------------------------------------
PAGE_SIZE = 100
SKIP_TOKEN = "$skipToken"


def _page_key(item: dict[str, Any]) -> str:
    return str(item.get("id") or item.get("name") or "").lower()


def _encode_token(last_key: str) -> str:
    # URL-safe without padding: the SDK pagers re-quote the next link's query values, so a token
    # that needs no quoting survives that round trip unchanged.
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")


def _decode_token(token: str) -> str:
    try:
        if not _TOKEN_CHARS.match(token):
            raise ValueError(token)
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("InvalidSkipToken", f"The skip token '{token}' is not valid.") from exc


def _top(req: ArmRequest) -> int:
    raw = req.query.get("$top")
    if raw is None or raw == "":
        return PAGE_SIZE
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request(
            "InvalidQueryParameterValue", f"The value '{raw}' of the query parameter '$top' is not valid."
        )
    return int(raw)


def page_window(req: ArmRequest, sorted_keys: Sequence[str]) -> list[str]:
    """Out of IDs already sorted as `paged` orders them (lower case), the ones `paged` can serve for
    this request: after its `$skipToken`, one more than a page (so `paged` knows a next page exists).
    A list of thousands then copies and sorts a page's worth, not all of them."""
    token = req.query.get(SKIP_TOKEN)
    start = bisect.bisect_right(sorted_keys, _decode_token(token)) if token else 0
    return list(sorted_keys[start : start + PAGE_SIZE + 1])


def paged(req: ArmRequest, items: Iterable[dict[str, Any]], *, honour_top: bool = False) -> ArmResponse:
    """One page of a list operation, as ARM serves `x-ms-pageable` lists: `{"value", "nextLink"}`.

    Items are ordered by ID (case-insensitively). A page holds `PAGE_SIZE` items, or `$top` where
    the operation defines it (`honour_top`: private DNS zones and record sets). `nextLink` is an
    absolute URL on the sandbox's host with the request's own query plus a `$skipToken` naming the
    last ID served; it is absent on the last page. Continuing after an ID rather than an offset
    keeps a walk consistent while resources come and go between pages, as ARM's tokens do. Every
    list of the SDKs in use follows `nextLink`, so every list handler answers through this.
    """
    size = _top(req) if honour_top else PAGE_SIZE
    ordered = sorted(items, key=_page_key)
    token = req.query.get(SKIP_TOKEN)
    if token:
        after = _decode_token(token)
        ordered = [item for item in ordered if _page_key(item) > after]
    page, rest = ordered[:size], ordered[size:]
    body: dict[str, Any] = {"value": page}
    if rest and page:
        query = {k: v for k, v in req.query.items() if k != SKIP_TOKEN}
        query[SKIP_TOKEN] = _encode_token(_page_key(page[-1]))
        body["nextLink"] = req.base_url + req.path + "?" + urlencode(query)
    return ArmResponse(200, body)
