"""Helpers for the API tests: the OpenAPI document and a small schema check."""

from __future__ import annotations

import json
from pathlib import Path

TYPES = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
OPENAPI = json.loads((Path(__file__).resolve().parents[1] / "static/openapi/openapi.json").read_text())


def conforms(value, schema, path="$"):
    """A small OpenAPI-schema check (required, types, enums, nullable, $ref, allOf) — enough to catch drift."""
    if "$ref" in schema:
        schema = OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if value is None:
        assert schema.get("nullable"), f"{path} is null"
        return
    for part in schema.get("allOf", []):
        conforms(value, part, path)
    kind = schema.get("type")
    if kind:
        assert isinstance(value, TYPES[kind]) and not (kind == "integer" and isinstance(value, bool)), \
            f"{path} is not {kind}: {value!r}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{path}.{key} missing"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                conforms(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{path}[{i}]")


def response_schema(path, status="200"):
    return OPENAPI["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
