"""JSON Schema building blocks of the rule language, shared by each kind's own keys (checker.rules.kinds)
and the generator of the whole schema (checker.rules.schema)."""
from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

IDENTIFIER: Schema = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
DOTTED_ID: Schema = {"type": "string", "pattern": r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"}
TEXT: Schema = {"type": "string", "minLength": 1}
SCALAR: Schema = {"type": ["string", "number", "boolean"]}


def ref(name: str) -> Schema:
    """A reference to one of the schema's `$defs`."""
    return {"$ref": f"#/$defs/{name}"}


def obj(properties: Schema, required: tuple[str, ...] | list[str] = (), **more: Any) -> Schema:
    """An object that refuses every key it does not name (DESIGN.md: `additionalProperties: false`)."""
    out: Schema = {"type": "object", "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(more)
    out["properties"] = properties
    return out


def enum(values: tuple[str, ...] | list[str]) -> Schema:
    return {"enum": list(values)}


def array(items: Schema, **more: Any) -> Schema:
    return {"type": "array", **more, "items": items}


def integer(minimum: int) -> Schema:
    return {"type": "integer", "minimum": minimum}
