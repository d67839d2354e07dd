"""Plot specifications: one JSON object that describes a plot completely (docs/plot-spec.md).

The notebook widgets sync a spec with the frontend (their ``spec`` trait); exported files,
"Copy parameters" and saved outputs carry the same object. This module only reads, writes and
checks the format; whether the named object, columns and genes exist is checked against the
data by :mod:`exprscope.plot_data`.

Reading rules (the document's): unknown keys are ignored, missing optional keys take their
defaults, a wrong type or an unknown enum value raises :class:`SpecError` naming the key, and
``exprscope_spec`` must be 1. Reading a written spec gives the same spec.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import __version__

__all__ = [
    "COMPARE_METHODS",
    "DUAL_EXPRESSION",
    "HEATMAP",
    "LOG2FC",
    "SCHEMA",
    "SPEC_VERSION",
    "SpecError",
    "build_spec",
    "read_spec",
    "spec_from_json",
    "spec_to_json",
]

SCHEMA_PATH = Path(__file__).with_name("plot_spec.schema.json")
#: The one declaration of the format (types, enums, defaults, bounds, argument names), read
#: by this module and by the frontend (src/plots/spec.ts).
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

SPEC_VERSION = SCHEMA["$defs"]["common"]["properties"]["exprscope_spec"]["const"]
HEATMAP = "heatmap"
DUAL_EXPRESSION = "dual_expression"
KINDS = tuple(SCHEMA["$defs"]["common"]["properties"]["kind"]["enum"])


def _enum(kind: str, key: str) -> tuple[str, ...]:
    return tuple(SCHEMA["$defs"][kind]["properties"][key]["enum"])


GENE_SOURCES = _enum(HEATMAP, "gene_source")
GROUP_BYS = _enum(HEATMAP, "group_by")
VALUES = _enum(HEATMAP, "value")
LOG2FC = "log2fc"
COMPARE_METHODS = _enum(HEATMAP, "compare_method")
MARKER_METHODS = _enum(HEATMAP, "marker_method")
SCALINGS = _enum(HEATMAP, "scaling")
METRICS = _enum(HEATMAP, "metric")
COLOR_BYS = _enum(DUAL_EXPRESSION, "color_by")
FACET_BYS = _enum(DUAL_EXPRESSION, "facet_by")
DENSITIES = _enum(DUAL_EXPRESSION, "density")
MAX_TOP_N = SCHEMA["$defs"][HEATMAP]["properties"]["top_n"]["maximum"]

_REQUIRED = object()


class SpecError(ValueError):
    """A spec that does not follow docs/plot-spec.md; the message names the key."""


# -- value checks, made from the schema's property declarations: each returns the normalised
# value or raises SpecError ---------------------------------------------------------------------


def _check_for(prop: Mapping[str, Any]) -> Callable[[str, Any], Any]:
    """The check of one schema property (the subset of JSON Schema the format uses: a type,
    possibly nullable; enum; minimum / maximum; minLength; string items; minItems)."""
    types = prop.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    nullable = "null" in types
    kind = next((t for t in types if t != "null"), None)
    if "enum" in prop:
        check = _choice(*prop["enum"])
    elif kind == "string":
        check = _string(prop.get("minLength", 0) > 0)
    elif kind == "array":
        check = _strings(prop.get("minItems", 0))
    elif kind == "boolean":
        check = _boolean
    elif kind == "integer":
        check = _integer(prop.get("minimum"), prop.get("maximum"))
    elif kind == "number":
        check = _number
    else:
        raise ValueError(f"The plot spec schema has a property this reader cannot check: {prop}")
    if not nullable:
        return check
    return lambda key, value: None if value is None else check(key, value)


def _string(non_empty: bool) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if not isinstance(value, str) or (non_empty and value == ""):
            what = "a non-empty string" if non_empty else "a string"
            raise SpecError(f"Spec key {key!r} must be {what}, not {value!r}.")
        return value

    return check


def _strings(min_items: int) -> Callable[[str, Any], list[str]]:
    def check(key: str, value: Any) -> list[str]:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise SpecError(f"Spec key {key!r} must be a list of strings, not {value!r}.")
        if len(value) < min_items:
            raise SpecError(
                f"Spec key {key!r} must hold at least {min_items} string(s), not {value!r}"
                + (" (null keeps every cluster)." if key == "clusters" else ".")
            )
        return list(value)

    return check


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"Spec key {key!r} must be true or false, not {value!r}.")
    return value


def _integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        # JSON numbers written by JavaScript may arrive as 10.0
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
        ):
            bounds = (
                f" from {minimum} to {maximum}"
                if minimum is not None and maximum is not None
                else f" ≥ {minimum}"
                if minimum is not None
                else ""
            )
            raise SpecError(f"Spec key {key!r} must be an integer{bounds}, not {value!r}.")
        return value

    return check


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"Spec key {key!r} must be a finite number, not {value!r}.")
    return value


def _choice(*options: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in options:
            raise SpecError(
                f"Spec key {key!r} must be one of {', '.join(map(repr, options))}, not {value!r}."
            )
        return value

    return check


def _table(kind: str, required: set[str]) -> dict[str, tuple[Callable[[str, Any], Any], Any]]:
    """key → (check, default) of a part of the schema, in its order (a written spec's)."""
    table = {}
    for key, prop in SCHEMA["$defs"][kind]["properties"].items():
        if key in ("exprscope_spec", "kind"):
            continue
        default = _REQUIRED if key in required else prop.get("default", _REQUIRED)
        if key == "version":
            default = __version__
        table[key] = (_check_for(prop), default)
    return table


_COMMON = _table("common", set(SCHEMA["$defs"]["common"]["required"]))
_KIND_KEYS = {kind: _table(kind, set(SCHEMA["$defs"][kind].get("required", []))) for kind in KINDS}


def read_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check a spec and return it normalised: defaults filled in, unknown keys dropped, keys
    in the documented order, lists copied. Raises :class:`SpecError` naming the bad key."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"A plot spec must be a JSON object (dict), not {type(spec).__name__}.")
    version = spec.get("exprscope_spec")
    if version != SPEC_VERSION or isinstance(version, bool):
        raise SpecError(
            f"Spec key 'exprscope_spec' must be {SPEC_VERSION} (this exprscope reads version "
            f"{SPEC_VERSION} specs), not {version!r}."
        )
    kind = _choice(*KINDS)("kind", spec.get("kind"))
    result: dict[str, Any] = {"exprscope_spec": SPEC_VERSION, "kind": kind}
    for key, (check, default) in {**_COMMON, **_KIND_KEYS[kind]}.items():
        value = spec.get(key, default)
        if value is _REQUIRED:
            raise SpecError(f"Spec key {key!r} is required for a {kind} spec.")
        result[key] = check(key, value)
    if kind == HEATMAP and result["value"] == LOG2FC and result["reference"] is None:
        raise SpecError(
            "Spec key 'reference' is required when 'value' is 'log2fc': the dataset the fold "
            "change is taken against (a category of dataset_column)."
        )
    return result


def build_spec(kind: str, **keys: Any) -> dict[str, Any]:
    """A new spec of ``kind`` written by this version; unlike :func:`read_spec`, a key the
    format does not define is an error (a typo in code, not a newer writer)."""
    if kind not in KINDS:
        raise SpecError(f"Unknown plot kind {kind!r}; use one of {', '.join(map(repr, KINDS))}.")
    known = {*_COMMON, *_KIND_KEYS[kind]} - {"version"}
    unknown = sorted(set(keys) - known)
    if unknown:
        raise TypeError(f"Unknown {kind} spec key(s): {', '.join(unknown)}.")
    return read_spec({"exprscope_spec": SPEC_VERSION, "kind": kind, **keys, "version": __version__})


def spec_to_json(spec: Mapping[str, Any]) -> str:
    """The spec as JSON text (checked and normalised first)."""
    return json.dumps(read_spec(spec), ensure_ascii=False)


def spec_from_json(text: str) -> dict[str, Any]:
    """Read a spec from JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError(f"Not a JSON plot spec: {error}.") from error
    return read_spec(data)
