"""Orgs, sites, hazard sources, devices and sensors: schema, import/export and repository."""

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.index import SensorIndex
from hazwatch.catalog.repository import CatalogRepository

__all__ = ["CatalogError", "CatalogRepository", "SensorIndex"]
