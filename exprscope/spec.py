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
from typing import Any

from . import __version__

__all__ = [
    "COMPARE_METHODS",
    "DUAL_EXPRESSION",
    "HEATMAP",
    "LOG2FC",
    "SPEC_VERSION",
    "SpecError",
    "build_spec",
    "read_spec",
    "spec_from_json",
    "spec_to_json",
]

SPEC_VERSION = 1
HEATMAP = "heatmap"
DUAL_EXPRESSION = "dual_expression"
KINDS = (HEATMAP, DUAL_EXPRESSION)

GENE_SOURCES = ("selected", "markers")
GROUP_BYS = ("dataset", "cluster", "dataset_cluster")
VALUES = ("mean", "linear_mean", "fraction", "dot", "log2fc")
LOG2FC = "log2fc"
COMPARE_METHODS = ("auto", "pseudobulk", "wilcoxon")
SCALINGS = ("none", "zscore", "minmax")
METRICS = ("euclidean", "correlation")
COLOR_BYS = ("dataset", "cluster")
FACET_BYS = ("none", "dataset", "cluster", "dataset_cluster")
DENSITIES = ("auto", "on", "off")
MAX_TOP_N = 100

_REQUIRED = object()


class SpecError(ValueError):
    """A spec that does not follow docs/plot-spec.md; the message names the key."""


# -- value checks: each returns the normalised value or raises SpecError -----------------------


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SpecError(f"Spec key {key!r} must be a string, not {value!r}.")
    return value


def _optional_string(key: str, value: Any) -> str | None:
    return None if value is None else _string(key, value)


def _strings(key: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"Spec key {key!r} must be a list of strings, not {value!r}.")
    return list(value)


def _optional_strings(key: str, value: Any) -> list[str] | None:
    return None if value is None else _strings(key, value)


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


# key → (check, default); the order is the order of a written spec
_COMMON: dict[str, tuple[Callable[[str, Any], Any], Any]] = {
    "version": (_string, __version__),
    "object": (_string, _REQUIRED),
    "matrix": (_string, _REQUIRED),
    "dataset_column": (_optional_string, None),
    "cluster_column": (_optional_string, None),
    "sample_column": (_optional_string, None),
    "clusters": (_optional_strings, None),
}
_KIND_KEYS: dict[str, dict[str, tuple[Callable[[str, Any], Any], Any]]] = {
    HEATMAP: {
        "gene_source": (_choice(*GENE_SOURCES), "selected"),
        "genes": (_strings, []),
        "top_n": (_integer(1, MAX_TOP_N), 10),
        "group_by": (_choice(*GROUP_BYS), "cluster"),
        "value": (_choice(*VALUES), "mean"),
        "reference": (_optional_string, None),
        "target": (_optional_string, None),
        "compare_method": (_choice(*COMPARE_METHODS), "auto"),
        "scaling": (_choice(*SCALINGS), "zscore"),
        "zscore_clip": (_number, 2.5),
        "min_cells": (_integer(0), 10),
        "cluster_genes": (_boolean, False),
        "cluster_columns": (_boolean, False),
        "metric": (_choice(*METRICS), "euclidean"),
    },
    DUAL_EXPRESSION: {
        "gene_x": (_string, _REQUIRED),
        "gene_y": (_string, _REQUIRED),
        "color_by": (_choice(*COLOR_BYS), "dataset"),
        "facet_by": (_choice(*FACET_BYS), "none"),
        "detected_only": (_boolean, False),
        "jitter": (_boolean, False),
        "density": (_choice(*DENSITIES), "auto"),
        "marginals": (_boolean, False),
        "n_boot": (_integer(0), 1000),
        "seed": (_integer(), 0),
        "embedding": (_optional_string, None),
    },
}


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
