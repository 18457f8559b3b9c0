"""Ingest: record files (CSV, JSON, JSON Lines) → validated, normalised rows in the store.

Public API: `import_file`, `import_dir`, `kind_schema`, `ImportResult`. See DESIGN.md "Records".
"""
from .importer import ImportResult, ImportRun, folder_files, import_dir, import_file, record_kind
from .schema import kind_schema, validator

__all__ = ["ImportResult", "ImportRun", "folder_files", "import_dir", "import_file", "kind_schema",
           "record_kind", "validator"]
