"""Plot specs (exprscope/spec.py) against their contract, docs/plot-spec.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from exprscope import __version__
from exprscope.spec import SpecError, build_spec, read_spec, spec_from_json, spec_to_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "plot-spec.md"

HEATMAP = {
    "exprscope_spec": 1,
    "kind": "heatmap",
    "version": "0.1.0",
    "object": "adata",
    "matrix": "layers/integrated",
    "dataset_column": "stim",
    "cluster_column": "leiden",
    "sample_column": "donor",
    "clusters": ["0", "3", "7"],
    "gene_source": "markers",
    "genes": ["CD14", "ISG15"],
    "top_n": 25,
    "marker_method": "wilcoxon",
    "group_by": "dataset_cluster",
    "value": "dot",
    "reference": "ctrl",
    "target": "stim",
    "compare_method": "wilcoxon",
    "scaling": "minmax",
    "zscore_clip": 3.0,
    "min_cells": 0,
    "cluster_genes": True,
    "cluster_columns": True,
    "metric": "correlation",
}
LOG2FC = {
    **HEATMAP,
    "gene_source": "selected",
    "group_by": "cluster",
    "value": "log2fc",
    "target": None,
    "compare_method": "auto",
}
DUAL = {
    "exprscope_spec": 1,
    "kind": "dual_expression",
    "version": "0.1.0",
    "object": "exprscope-object-3",
    "matrix": "raw",
    "dataset_column": None,
    "cluster_column": "cluster",
    "sample_column": None,
    "clusters": None,
    "gene_x": "ISG15",
    "gene_y": "IFI6",
    "color_by": "cluster",
    "facet_by": "dataset_cluster",
    "detected_only": True,
    "jitter": True,
    "density": "on",
    "marginals": True,
    "n_boot": 0,
    "seed": -7,
    "embedding": "X_umap",
}


def documented_defaults(kind_heading: str) -> dict[str, object]:
    """The ``| key | type | default |`` table under a heading of docs/plot-spec.md."""
    section = DOC.read_text().split(f"## {kind_heading}", 1)[1].split("\n## ", 1)[0]
    defaults = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        key = re.fullmatch(r"`(\w+)`", cells[0])
        if key and len(cells) == 3:
            default = cells[2]
            defaults[key[1]] = None if default == "required" else json.loads(default.strip("`"))
    return defaults


@pytest.mark.parametrize(
    ("heading", "required"),
    [("Heatmap", {}), ("Dual expression", {"gene_x": "A", "gene_y": "B"})],
)
def test_defaults_are_the_documented_ones(heading, required):
    expected = documented_defaults(heading)
    assert len(expected) >= 11
    kind = "heatmap" if heading == "Heatmap" else "dual_expression"
    spec = read_spec(
        {"exprscope_spec": 1, "kind": kind, "object": "adata", "matrix": "X", **required}
    )
    for key, default in expected.items():
        assert spec[key] == (required.get(key) if default is None else default), key
    assert spec["version"] == __version__  # filled in when missing (informational)
    assert spec["dataset_column"] is None and spec["clusters"] is None


def test_the_documented_example_reads():
    example = json.loads(DOC.read_text().split("```json", 1)[1].split("```", 1)[0])
    spec = read_spec(example)
    assert spec["clusters"] == ["0", "3", "7"] and spec["group_by"] == "cluster"


@pytest.mark.parametrize("spec", [HEATMAP, LOG2FC, DUAL], ids=["heatmap", "log2fc", "dual"])
def test_round_trip(spec):
    assert read_spec(spec) == spec
    assert spec_from_json(spec_to_json(spec)) == spec
    assert list(read_spec(spec)) == list(spec)  # the documented key order
    built = build_spec(
        spec["kind"],
        **{k: v for k, v in spec.items() if k not in ("exprscope_spec", "kind", "version")},
    )
    assert built == {**spec, "version": __version__}


def test_reading_ignores_unknown_keys_and_copies_lists():
    source = {**HEATMAP, "future_option": {"x": 1}, "title": "mine"}
    spec = read_spec(source)
    assert "future_option" not in spec and "title" not in spec
    spec["genes"].append("LYZ")
    assert source["genes"] == ["CD14", "ISG15"]


def test_integral_floats_from_javascript_are_integers():
    spec = read_spec({**HEATMAP, "top_n": 10.0, "min_cells": 3.0})
    assert spec["top_n"] == 10 and isinstance(spec["top_n"], int)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kind", "violin"),
        ("object", 3),
        ("matrix", None),
        ("dataset_column", 1),
        ("clusters", "0,3"),
        ("clusters", [0, 3]),
        ("gene_source", "all"),
        ("genes", "CD14"),
        ("top_n", 0),
        ("top_n", 101),
        ("top_n", 2.5),
        ("top_n", True),
        ("marker_method", "logreg"),
        ("group_by", "sample"),
        ("value", "median"),
        ("scaling", "log"),
        ("zscore_clip", "2.5"),
        ("zscore_clip", float("nan")),
        ("min_cells", -1),
        ("cluster_genes", "true"),
        ("cluster_columns", 1),
        ("metric", "cosine"),
        ("sample_column", 1),
        ("reference", 3),
        ("target", ["stim"]),
        ("compare_method", "deseq2"),
        ("compare_method", None),
    ],
)
def test_heatmap_errors_name_the_key(key, value):
    with pytest.raises(SpecError, match=f"'{key}'"):
        read_spec({**HEATMAP, key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gene_x", None),
        ("gene_y", ["A"]),
        ("color_by", "dataset_cluster"),
        ("facet_by", "sample"),
        ("detected_only", None),
        ("jitter", "no"),
        ("density", True),
        ("marginals", 0),
        ("n_boot", -1),
        ("seed", "0"),
        ("embedding", 2),
    ],
)
def test_dual_errors_name_the_key(key, value):
    with pytest.raises(SpecError, match=f"'{key}'"):
        read_spec({**DUAL, key: value})


@pytest.mark.parametrize("key", ["object", "matrix", "gene_x", "gene_y"])
def test_required_keys(key):
    with pytest.raises(SpecError, match=f"'{key}' is required"):
        read_spec({k: v for k, v in DUAL.items() if k != key})


@pytest.mark.parametrize("version", [None, 2, "1", True])
def test_other_format_versions_are_rejected(version):
    with pytest.raises(SpecError, match="exprscope_spec"):
        read_spec({**HEATMAP, "exprscope_spec": version})


def test_not_a_spec():
    with pytest.raises(SpecError, match="JSON object"):
        read_spec(["heatmap"])
    with pytest.raises(SpecError, match="Not a JSON plot spec"):
        spec_from_json("{heatmap")


def test_building_with_an_undefined_key_is_a_typo():
    with pytest.raises(TypeError, match="groupby"):
        build_spec("heatmap", object="adata", matrix="X", groupby="cluster")
    with pytest.raises(SpecError, match="Unknown plot kind"):
        build_spec("violin", object="adata", matrix="X")


def test_log2fc_needs_a_reference():
    with pytest.raises(SpecError, match=r"'reference' is required when 'value' is 'log2fc'"):
        read_spec({**LOG2FC, "reference": None})
    with pytest.raises(SpecError, match="'reference'"):
        read_spec({k: v for k, v in LOG2FC.items() if k != "reference"})
    # Kept (e.g. by a plot switched back to means) but not needed by other values
    assert read_spec({**HEATMAP, "reference": None})["reference"] is None


def test_a_spec_written_before_the_difference_heatmap_reads_with_defaults():
    new_keys = ("sample_column", "reference", "target", "compare_method")
    old = {k: v for k, v in HEATMAP.items() if k not in new_keys}
    spec = read_spec(old)
    assert (spec["sample_column"], spec["reference"], spec["target"]) == (None, None, None)
    assert spec["compare_method"] == "auto"
    assert list(spec) == list(HEATMAP)  # the new keys in their documented places
    dual = read_spec({k: v for k, v in DUAL.items() if k != "sample_column"})
    assert dual == DUAL
