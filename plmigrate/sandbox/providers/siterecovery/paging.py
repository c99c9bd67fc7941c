"""Pages of 100 with an absolute `nextLink`, for the Site Recovery, OffAzure and compute lists.

Same contract as the sandbox-wide helper being landed for every list (`plmigrate.sandbox.arm.paged`):
items ordered by ID, `$skipToken` naming the last ID served, the request's query kept. When that
helper is on main, this module goes and its callers import `paged` from `plmigrate.sandbox.arm`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from plmigrate.sandbox.arm import ArmRequest, ArmResponse

PAGE_SIZE = 100
SKIP_TOKEN = "$skipToken"


def _key(item: dict[str, Any]) -> str:
    return str(item.get("id") or item.get("name") or "").lower()


def paged(req: ArmRequest, items: Iterable[dict[str, Any]]) -> ArmResponse:
    ordered = sorted(items, key=_key)
    token = req.query.get(SKIP_TOKEN)
    if token:
        after = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
        ordered = [item for item in ordered if _key(item) > after]
    page, rest = ordered[:PAGE_SIZE], ordered[PAGE_SIZE:]
    body: dict[str, Any] = {"value": page}
    if rest and page:
        query = {k: v for k, v in req.query.items() if k != SKIP_TOKEN}
        query[SKIP_TOKEN] = base64.urlsafe_b64encode(_key(page[-1]).encode()).decode().rstrip("=")
        body["nextLink"] = req.base_url + req.path + "?" + urlencode(query)
    return ArmResponse(200, body)
