"""configsync: database configuration tables as reviewed YAML files in git."""
from __future__ import annotations

__version__ = "0.1.0"
