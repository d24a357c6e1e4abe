"""The declarative `template` connector: URL, headers, body and status table come from config."""

from .config import TemplateConfig, UnmappedPolicy
from .connector import TemplateConnector

__all__ = ["TemplateConfig", "TemplateConnector", "UnmappedPolicy"]
