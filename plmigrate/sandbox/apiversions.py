"""Which `api-version` each emulated resource type serves, and ARM's refusals of every other one.

ARM checks `api-version` before a request reaches the resource provider, so a refused request
changes nothing. What it answers (the codes and wordings people paste from real Azure):

- none sent (or empty): 400 `MissingApiVersionParameter`, "The api-version query parameter
  (?api-version=) is required for all requests.";
- not a version (`latest`, `2024-13-01`, two values): 400 `InvalidApiVersionParameter`, "The
  api-version '...' is invalid. The supported versions are '...'." listing ARM's own versions;
- a well-formed version the type is not served at:
  - ARM's own types (`Microsoft.Resources`): 400 `InvalidApiVersionParameter`, as above;
  - a provider's type in a resource group: 400 `NoRegisteredProviderFound`, "No registered resource
    provider found for location '...' and API version '...' for type '...'. The supported
    api-versions are '...'. The supported locations are '...'." (location: the body's, else that of
    the closest existing resource on the path, the resource group at the latest; `global` for
    global types such as private DNS zones);
  - a location-less type (role assignments and definitions) or one addressed outside a resource
    group (subscription-wide lists, name checks): 404 `InvalidResourceType`, "The resource type
    '...' could not be found in the namespace '...' for api version '...'. The supported
    api-versions are '...'."

The versions live with the providers: each provider module has `API_VERSIONS`, a mapping from a
resource type (`Microsoft.Network/privateEndpoints`) to a `Served`. A nested type without its own
entry (`privateEndpoints/privateDnsZoneGroups`) is served at its parent's versions. The query
parameter's name is matched case-insensitively (`Api-Version=` is accepted), as ARM's ASP.NET front
door reads query names (ignoring case); no published source states it for ARM. Every SDK client
sends the lower-case name, so only a raw request could tell the difference.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from plmigrate.regions import GEO_CODES
from plmigrate.sandbox.arm import ArmError, parse_resource_id

# How ARM routes a type, which decides the refusal's wording: `regional` (a location, from the
# body or the resource group), `global` (location `global`), `locationless` (no location at all:
# ARM answers InvalidResourceType), `arm` (ARM's own Microsoft.Resources), `echo` (the sandbox's
# own operation URLs, which carry the version of the call that started them: any version served
# anywhere).
Routing = Literal["regional", "global", "locationless", "arm", "echo"]


@dataclass(frozen=True)
class Served:
    versions: tuple[str, ...]
    routing: Routing = "regional"


def served(*versions: str, routing: Routing = "regional") -> Served:
    return Served(tuple(versions), routing)


# The regions a NoRegisteredProviderFound lists as supported (ARM lists the provider's regions).
REGIONS = ", ".join(GEO_CODES)

# YYYY-MM-DD, a real date, optionally with a suffix such as -preview or -privatepreview.
_WELL_FORMED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(-[A-Za-z][A-Za-z0-9]*)?$")


def well_formed(version: str) -> bool:
    found = _WELL_FORMED.match(version)
    if not found:
        return False
    try:
        datetime.date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return False
    return True


def requested_version(raw_query: str) -> str | None:
    """The api-version a query asks for: its parameter name case-insensitively; several values are
    joined with a comma (as ARM's front door reads a repeated parameter), which is no version."""
    values = [v for k, v in parse_qsl(raw_query, keep_blank_values=True) if k.lower() == "api-version"]
    values = [v for v in values if v != ""]
    if not values:
        return None
    return ",".join(values)


class VersionTable:
    """Every provider's `API_VERSIONS`, merged; looked up by resource type, longest prefix first."""

    def __init__(self, tables: Iterable[tuple[str, Mapping[str, Served]]]) -> None:
        self.entries: dict[str, tuple[str, Served, str]] = {}  # lower type -> (type, served, owner)
        for owner, table in tables:
            for resource_type, entry in table.items():
                lowered = resource_type.lower()
                if lowered in self.entries:
                    raise ValueError(
                        f"api-versions of {resource_type} declared twice: {self.entries[lowered][2]} and {owner}"
                    )
                self.entries[lowered] = (resource_type, entry, owner)
        self._every = tuple(sorted({v for _, entry, _ in self.entries.values() for v in entry.versions}, key=str.lower))
        self._accepted = {
            lowered: frozenset(v.lower() for v in self.versions_of(entry))
            for lowered, (_, entry, _) in self.entries.items()
        }
        arm = [entry.versions for _, entry, _ in self.entries.values() if entry.routing == "arm"]
        self.arm_versions: tuple[str, ...] = arm[0] if arm else ()

    def lookup(self, resource_type: str) -> tuple[str, Served, str] | None:
        """(registered type, its versions, the module declaring it) for a request's resource type."""
        lowered = self._registered(resource_type)
        return None if lowered is None else self.entries[lowered]

    def _registered(self, resource_type: str) -> str | None:
        parts = resource_type.lower().split("/")
        for end in range(len(parts), 1, -1):
            candidate = "/".join(parts[:end])
            if candidate in self.entries:
                return candidate
        return None

    def accepts(self, resource_type: str, version: str) -> bool:
        """Whether a request for `resource_type` at `version` passes (types not emulated pass)."""
        lowered = self._registered(resource_type)
        return lowered is None or version.lower() in self._accepted[lowered]

    def versions_of(self, entry: Served) -> tuple[str, ...]:
        return self._every if entry.routing == "echo" else entry.versions

    def check(
        self, method: str, path: str, raw_query: str, body: Any, tracked_location: Callable[[], str | None]
    ) -> str:
        """The request's api-version if the type addressed by `path` is served at it; else ARM's
        refusal. `tracked_location()` is the location of the closest existing resource on the path
        (the resource group at the latest), asked only for a refusal that names it."""
        version = requested_version(raw_query)
        if version is None:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if not well_formed(version):
            raise self._invalid(version)
        parsed = parse_resource_id(path)
        lowered = self._registered(parsed.get("type", ""))
        if lowered is None:
            return version  # no emulated type here: the router answers for the path
        if version.lower() in self._accepted[lowered]:
            return version
        registered, entry, _ = self.entries[lowered]
        versions = self.versions_of(entry)
        if entry.routing == "arm":
            raise self._invalid(version)
        namespace, _, type_name = registered.partition("/")
        ascending = sorted(versions, key=str.lower)
        if entry.routing in {"locationless", "echo"} or (entry.routing == "regional" and "resourceGroup" not in parsed):
            raise ArmError(
                404,
                "InvalidResourceType",
                f"The resource type '{type_name}' could not be found in the namespace '{namespace}' for api "
                f"version '{version}'. The supported api-versions are '{','.join(ascending)}'.",
            )
        if entry.routing == "global":
            location, supported = "global", "global"
        else:
            location = _body_location(method, body) or tracked_location() or ""
            supported = REGIONS
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location '{location}' and API version '{version}' "
            f"for type '{type_name}'. The supported api-versions are '{', '.join(ascending)}'. "
            f"The supported locations are '{supported}'.",
        )

    def _invalid(self, version: str) -> ArmError:
        newest_first = ",".join(sorted(self.arm_versions, key=str.lower, reverse=True))
        return ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are '{newest_first}'.",
        )


def _body_location(method: str, body: Any) -> str | None:
    if method.upper() in {"PUT", "PATCH"} and isinstance(body, dict) and isinstance(body.get("location"), str):
        return body["location"].replace(" ", "").lower()
    return None


def table_of(modules: Iterable[Any]) -> VersionTable:
    """The table of the given modules (each with `API_VERSIONS`)."""
    return VersionTable((module.__name__, module.API_VERSIONS) for module in modules)


def sandbox_table() -> VersionTable:
    """The sandbox's table: every provider's and the operation URLs'."""
    from plmigrate.sandbox import lro, providers  # they import this module

    return table_of((lro, *providers.ALL))
