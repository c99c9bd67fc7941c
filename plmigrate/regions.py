"""Azure regions plmigrate knows: names as ARM spells them and Site Recovery's geo codes.

The geo code appears in Site Recovery's private-link FQDNs
(`{vault}-asr-pod01-{type}.{geo}.siterecovery.windowsazure.com`) and so in the on-prem conditional
forwarder a region needs. Both the pipeline's rules and the sandbox read this one table.
"""

from __future__ import annotations

GEO_CODES: dict[str, str] = {
    "eastus": "eus",
    "eastus2": "eus2",
    "centralus": "cus",
    "westus": "wus",
    "westus2": "wus2",
    "westus3": "wus3",
    "westcentralus": "wcus",
    "northcentralus": "ncus",
    "southcentralus": "scus",
    "northeurope": "ne",
    "westeurope": "we",
    "uksouth": "uks",
    "ukwest": "ukw",
    "francecentral": "frc",
    "germanywestcentral": "gwc",
    "switzerlandnorth": "szn",
    "norwayeast": "nwe",
    "swedencentral": "sdc",
    "eastasia": "ea",
    "southeastasia": "sea",
    "japaneast": "jpe",
    "japanwest": "jpw",
    "koreacentral": "krc",
    "centralindia": "inc",
    "southindia": "ins",
    "australiaeast": "ae",
    "australiasoutheast": "ase",
    "canadacentral": "cnc",
    "canadaeast": "cne",
    "brazilsouth": "brs",
    "uaenorth": "uan",
    "southafricanorth": "san",
}


def normalize_region(name: str) -> str:
    """ARM's spelling of a region: "East US 2" -> "eastus2"."""
    return name.replace(" ", "").replace("-", "").lower()


def geo_code(region: str) -> str:
    """Site Recovery's geo code for a region; KeyError for a region not in the table."""
    return GEO_CODES[normalize_region(region)]
