"""Table structure from PostgREST's OpenAPI description (GET on the REST root),
where the migration's ``configsync_describe()`` is missing (see ``describe.py``).

Columns in table order, types, NOT NULL, defaults, primary keys, single-column
foreign keys, varchar lengths and enum labels: what the REST API says about a
table, fetched once per exposed schema.
"""
from __future__ import annotations

import re
from typing import Any

from ...errors import BackendError
from ..base import Column, ForeignKey, TableInfo
from ..pgcommon import kind_of_formatted
from .client import URL_HINT, RestClient, json_object
from .codec import split
from .settings import KEY_HINT

# PostgREST marks keys in a column's description.
_PK_NOTE = "<pk/>"
_FK_NOTE = re.compile(r"<fk table='([^']*)' column='([^']*)'/>")


class Catalog:
    """The OpenAPI description of each schema the REST API exposes."""

    def __init__(self, client: RestClient) -> None:
        self.client = client
        self._specs: dict[str, dict[str, Any]] = {}

    def spec(self, schema: str) -> dict[str, Any]:
        """The description of one schema (read once): its definitions and paths."""
        if schema not in self._specs:
            client = self.client
            response = client.request("GET", "", schema=schema, retry=True,
                                      headers={"Accept": "application/openapi+json"})
            if response.status_code == 404 and not json_object(response).get("code"):
                raise BackendError(f"{client.display_url} has no REST API at {client.rest_url} (HTTP 404): "
                                   f"{URL_HINT}")
            if not response.is_success:
                client.fail(response, f"reading the structure of {client.display_url}")
            spec = json_object(response)
            if not isinstance(spec.get("definitions"), dict) or not isinstance(spec.get("paths"), dict):
                raise BackendError(
                    f"{client.display_url} did not return its OpenAPI description (is the REST API's "
                    "openapi-mode disabled?); configsync reads the table structure from it"
                )
            self._specs[schema] = spec
        return self._specs[schema]

    def describe(self, table: str) -> TableInfo:
        schema, name = split(table)
        definition = self.spec(schema)["definitions"].get(name)
        if not isinstance(definition, dict) or not isinstance(definition.get("properties"), dict):
            raise BackendError(
                f"table {table} does not exist in {self.client.display_url}, or the key cannot see it "
                f"({KEY_HINT}; a schema other than public must be exposed in Project Settings > API)"
            )
        return table_info(table, definition)

    def tables(self) -> list[str]:
        """The public tables the REST API lets this key insert into and delete from."""
        spec = self.spec("public")
        paths = spec["paths"]
        return sorted(
            name for name in spec["definitions"]
            if isinstance(paths.get(f"/{name}"), dict) and {"post", "delete"} <= set(paths[f"/{name}"])
        )

    def has_function(self, name: str) -> bool:
        """Is the public function installed and callable with this key? (The
        description lists only the functions the key may call.)"""
        return f"/rpc/{name}" in self.spec("public")["paths"]


def table_info(table: str, definition: dict[str, Any]) -> TableInfo:
    """One table's OpenAPI definition as a TableInfo."""
    required = set(definition.get("required") or ())
    columns = []
    primary_key = []
    foreign_keys: dict[str, tuple[list[str], list[str]]] = {}
    for name, prop in definition["properties"].items():
        prop = prop if isinstance(prop, dict) else {}
        fmt = str(prop.get("format") or "")
        base = fmt.removesuffix("[]")
        type_name = base.rsplit(".", 1)[-1]  # public.mood -> mood
        element = kind_of_formatted(type_name) if fmt.endswith("[]") else None
        kind = "array" if element else kind_of_formatted(type_name)
        if not fmt and "type" not in prop:
            kind = "other"
        description = str(prop.get("description") or "")
        comment = description.split("\n\nNote:\n")[0] if "Note:\n" in description else description
        if description.startswith("Note:\n"):
            comment = ""
        choices = prop.get("enum") or (prop.get("items") or {}).get("enum")
        columns.append(Column(
            name, kind, fmt, name not in required, "default" in prop, element,
            type_name=type_name, max_length=prop.get("maxLength") if isinstance(prop.get("maxLength"), int) else None,
            choices=tuple(str(c) for c in choices) if isinstance(choices, list) else None,
            comment=comment or None,
        ))
        if _PK_NOTE in description:
            primary_key.append(name)
        for ref_table, ref_column in _FK_NOTE.findall(description):
            refs = foreign_keys.setdefault(ref_table, ([], []))
            refs[0].append(name)
            refs[1].append(ref_column)
    schema, _ = split(table)
    return TableInfo(
        name=table,
        columns=tuple(columns),
        primary_key=tuple(primary_key),
        foreign_keys=tuple(
            ForeignKey(tuple(cols), ref if schema == "public" else f"{schema}.{ref}", tuple(ref_cols))
            for ref, (cols, ref_cols) in foreign_keys.items()
        ),
    )
