"""Normalised digests of a sandbox world, to compare the end states of two runs.

Volatile values differ between two correct runs and are replaced by placeholders: GUIDs (resource
GUIDs, connection-name suffixes, principal IDs of fresh identities, role assignment names derived
from them), the vault's numeric ID in ASR FQDNs, private IPs (allocated in whatever order
concurrent endpoint creations arrive), etags and timestamps.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from plmigrate.sandbox.arm import parse_resource_id

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_DIGITS = re.compile(r"(?<![0-9a-z])\d{6,}(?![0-9])", re.I)  # the vault's numeric ID in ASR FQDNs
_HEX = re.compile(r"(?<![0-9a-z])(?=[0-9a-z]*\d)[0-9a-f]{12,}(?![0-9a-z])", re.I)  # e.g. NIC DNS suffixes
_IP = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_VOLATILE_KEYS = {"etag", "systemdata", "createdon", "updatedon", "createdat", "creationtime", "lastmodified"}
# Scenario constants that are GUIDs but not volatile: keep them recognisable.
_STABLE = {
    "00000000-0000-0000-0000-00000000a11e": "SUB",
    "11111111-0000-0000-0000-00000000a11e": "TENANT",
    "22222222-0000-0000-0000-00000000a11e": "PLMIGRATE",
}
_ROLE_NAMES = {
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "StorageBlobDataContributor",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "StorageBlobDataOwner",
}


def _text(value: str) -> str:
    def guid(match: re.Match[str]) -> str:
        g = match.group(0).lower()
        return _STABLE.get(g) or _ROLE_NAMES.get(g) or "GUID"

    value = _HEX.sub("HEX", _GUID.sub(guid, value))
    if _IP.match(value):
        return "IP"
    return _DIGITS.sub("N", value)


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            _text(k): normalise(v)
            for k, v in sorted(value.items())
            if k.lower() not in _VOLATILE_KEYS and not k.lower().endswith(("time", "timestamp"))
        }
    if isinstance(value, list):
        items = [normalise(v) for v in value]
        return sorted(items, key=repr)
    if isinstance(value, str):
        return _text(value)
    return value


def digest(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Normalised ID -> normalised resource; two correct end states have equal digests."""
    out: dict[str, Any] = {}
    for rid, resource in resources.items():
        key = _text(rid.lower())
        kind = parse_resource_id(rid).get("type", "").lower()
        if kind == "microsoft.recoveryservices/vaults/replicationjobs":
            # Jobs are history, not end state: a run that retried has more of them.
            continue
        if kind.startswith("microsoft.offazure/") and kind.endswith("/machines"):
            # Discovered machines are named by GUIDs: key them by the server they are.
            key = _text(rid.lower().rsplit("/", 1)[0]) + "/" + str(resource["properties"]["displayName"]).lower()
        if kind == "microsoft.authorization/roleassignments":
            # Their names derive from the principal's ID: key them by what they grant instead.
            props = resource.get("properties") or {}
            role = props.get("roleDefinitionId", "").rsplit("/", 1)[-1]
            key = _text(f"{props.get('scope', '')}|{role}|{props.get('principalId', '')}".lower())
        assert key not in out, f"two resources normalise to {key}: make the digest finer"
        out[key] = normalise(resource)
    return out


def kinds(resources: dict[str, dict[str, Any]]) -> Counter[str]:
    """How many resources of each type."""
    return Counter(parse_resource_id(rid).get("type", "?").lower() for rid in resources)


def duplicates(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Everything made twice for one purpose: endpoints per (target, group), role assignments per
    (scope, role, principal), A record sets per FQDN, zones per name, IPs per A record set."""
    found: list[str] = []
    endpoints: Counter[tuple[str, str]] = Counter()
    assignments: Counter[tuple[str, str, str]] = Counter()
    zones: Counter[str] = Counter()
    fqdns: Counter[str] = Counter()
    for rid, r in resources.items():
        kind = parse_resource_id(rid).get("type", "").lower()
        props = r.get("properties") or {}
        if kind == "microsoft.network/privateendpoints":
            for c in (props.get("privateLinkServiceConnections") or []) + (
                props.get("manualPrivateLinkServiceConnections") or []
            ):
                cp = c.get("properties") or {}
                for group in cp.get("groupIds") or []:
                    endpoints[(cp.get("privateLinkServiceId", "").lower(), group.lower())] += 1
        elif kind == "microsoft.authorization/roleassignments":
            assignments[
                (
                    props.get("scope", "").lower(),
                    props.get("roleDefinitionId", "").rsplit("/", 1)[-1].lower(),
                    props.get("principalId", "").lower(),
                )
            ] += 1
        elif kind == "microsoft.network/privatednszones":
            zones[r["name"].lower()] += 1
        elif kind == "microsoft.network/privatednszones/a":
            zone = parse_resource_id(rid.rsplit("/A/", 1)[0] if "/A/" in rid else rid).get("name", "")
            fqdns[f"{r['name']}.{zone}".lower()] += 1
            ips = [a.get("ipv4Address") for a in props.get("aRecords") or []]
            if len(ips) != len(set(ips)) or len(ips) > 1:
                found.append(f"A record set {r['name']}.{zone} holds {ips}")
    found += [f"{n} private endpoints for {k}" for k, n in endpoints.items() if n > 1]
    found += [f"{n} role assignments for {k}" for k, n in assignments.items() if n > 1]
    found += [f"{n} private DNS zones named {k}" for k, n in zones.items() if n > 1]
    found += [f"{n} A record sets for {k}" for k, n in fqdns.items() if n > 1]
    return found


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(added, removed, changed) resource IDs between two raw resource maps (no normalisation)."""
    added = set(after) - set(before)
    removed = set(before) - set(after)
    changed = {k for k in set(before) & set(after) if before[k] != after[k]}
    return added, removed, changed


def leaf_differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two normalised values differ, for a readable assertion message."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += leaf_differences(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in leaf_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
