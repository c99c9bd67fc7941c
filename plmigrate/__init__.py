"""plmigrate: Azure Migrate over Private Link as Prefect 3 flows over the real Azure SDK clients."""

__version__ = "0.1.0"
