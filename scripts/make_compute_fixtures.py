"""Write the fixture that holds the browser's computations to the kernel's.

``conformance/compute_fixture.json`` holds a real slice of data and what
the Python implementation (``exprscope.compute``) computes from it. The jest test
``src/compute/__tests__/crossImpl.spec.ts`` runs the TypeScript functions on the same inputs
and requires the same numbers; ``exprscope/tests/test_compute_fixture.py`` recomputes the
Python outputs from the stored inputs so the fixture cannot go stale.

Data: ``scanpy.datasets.pbmc68k_reduced()`` (ships in the scanpy wheel), its log-normalised
``raw`` matrix.

``conformance/conserved_fixture.json`` holds per-group sums by cluster ×
dataset and the conserved-markers statistics of ``exprscope.compute.markers`` (a file of its
own: the main fixture is at its size budget). Data: ``exprscope.datasets.kang_pbmc()``
(cluster × ctrl/stim) and pbmc68k_reduced (bulk_labels × cell-cycle phase: three "datasets",
clusters absent from some). ``exprscope/tests/test_conserved_markers.py`` recomputes its
outputs. Run from the repository root, then ``npx prettier --write`` both files::

    python scripts/make_compute_fixtures.py
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exprscope.compute import (  # noqa: E402
    correlate_groups,
    group_moments,
    hclust,
    scale_rows,
    summarise,
    welch_markers,
)
from exprscope.compute.aggregate import GroupMoments  # noqa: E402
from exprscope.compute.compare import fisher_z_difference  # noqa: E402
from exprscope.compute.markers import conserved_statistics, conserved_top  # noqa: E402

FIXTURE = REPO / "conformance" / "compute_fixture.json"
CONSERVED_FIXTURE = FIXTURE.parent / "conserved_fixture.json"
MAX_BYTES = 300_000
CONSERVED_MAX_BYTES = 200_000

N_CELLS = 300
CELL_GENES = ["HLA-DRA", "CD74", "CST3", "LYZ", "NKG7", "GNLY", "MS4A1", "CD79A"]
GENE_PAIRS = [["HLA-DRA", "CD74"], ["CST3", "LYZ"], ["NKG7", "GNLY"], ["MS4A1", "CD79A"]]
#: Cells of the slice whose louvain label is dropped (code −1: in no group).
UNGROUPED_CELLS = [3, 50, 121, 222, 299]
N_HCLUST_GENES = 30
N_MARKER_GENES = 80
MIN_CELLS = 5
#: Bootstrap settings of the Spearman interval, per grouping.
BOOTSTRAP = {"louvain": {"n_boot": 1000, "seed": 0}, "phase": {"n_boot": 500, "seed": 5}}
#: Genes of the conserved-markers case on the Kang data: cell-type markers expected to be
#: conserved across IFN-beta stimulation, interferon-stimulated genes, housekeeping genes.
KANG_CONSERVED_GENES = [
    "CD14", "LYZ", "S100A8", "S100A9", "FCGR3A", "MS4A7", "MS4A1", "CD79A", "CD79B", "CD3D",
    "CD3E", "IL7R", "CCR7", "NKG7", "GNLY", "GZMB", "PPBP", "PF4", "HBB", "HBA2", "CD74",
    "HLA-DRA", "FCER1A", "CLEC5A", "VCAN", "ISG15", "IFI6", "IFIT1", "IFIT3", "CXCL10", "MX1",
    "RSAD2", "TYROBP", "FTL", "RPS6", "MALAT1", "ACTB", "B2M",
]  # fmt: skip
N_PBMC_CONSERVED_GENES = 20


def build_inputs() -> dict[str, Any]:
    """The real data the fixture is computed from."""
    import scanpy as sc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = sc.datasets.pbmc68k_reduced()
    raw = adata.raw.to_adata()
    louvain = adata.obs["louvain"].cat.codes.to_numpy().astype(np.int64)
    phase = adata.obs["phase"].cat.codes.to_numpy().astype(np.int64)
    n_louvain = len(adata.obs["louvain"].cat.categories)
    n_phase = len(adata.obs["phase"].cat.categories)

    cells = np.sort(np.random.default_rng(0).choice(adata.n_obs, N_CELLS, replace=False))
    values = raw[cells, CELL_GENES].X.toarray().T.astype(np.float32)
    louvain_slice = louvain[cells].copy()
    louvain_slice[UNGROUPED_CELLS] = -1

    # Heatmap matrix: genes × (phase × louvain) means over all 700 cells, as a heatmap shows
    hclust_genes = list(
        raw.var_names[np.argsort(-raw.X.getnnz(axis=0), kind="stable")[:N_HCLUST_GENES]]
    )
    combined = phase * n_louvain + louvain
    moments = group_moments(raw[:, hclust_genes].X, combined, n_phase * n_louvain)
    heatmap = summarise(moments)["mean"]
    heatmap = heatmap[moments.n > 0].T  # observed columns only (as sc.get.aggregate)

    # Per-group sums over many genes of all cells, for the markers
    marker_genes = np.flatnonzero(raw.X.getnnz(axis=0) > 20)[:N_MARKER_GENES]
    marker_moments = group_moments(raw.X[:, marker_genes], louvain, n_louvain)

    return {
        "source": "scanpy.datasets.pbmc68k_reduced(), raw (log-normalised, float32)",
        "cells": {
            "genes": CELL_GENES,
            "values": values.tolist(),
            "groupings": {
                "louvain": {
                    "categories": list(adata.obs["louvain"].cat.categories),
                    "codes": louvain_slice.tolist(),
                },
                "phase": {
                    "categories": list(adata.obs["phase"].cat.categories),
                    "codes": phase[cells].tolist(),
                },
            },
        },
        "heatmap": {"genes": hclust_genes, "matrix": heatmap.tolist()},
        "marker_moments": {
            "genes": list(raw.var_names[marker_genes]),
            "n": marker_moments.n.tolist(),
            "sum": marker_moments.sum.tolist(),
            "sum_sq": marker_moments.sum_sq.tolist(),
            "total_n": marker_moments.total_n,
            "total_sum": marker_moments.total_sum.tolist(),
            "total_sum_sq": marker_moments.total_sum_sq.tolist(),
        },
        "gene_pairs": GENE_PAIRS,
        "min_cells": MIN_CELLS,
        "bootstrap": BOOTSTRAP,
        "distributions": _distribution_cases(),
        # [r_target, n_target, r_reference, n_reference]: Δr of two correlations
        "correlation_differences": [
            [0.5, 103, 0.3, 103],
            [0.26, 1000, 0.31, 1000],
            [-0.8, 25, 0.4, 4000],
            [0.999, 50, 0.2, 12],
            [0.0, 4, 0.0, 4],
            [0.9, 3, 0.1, 500],
        ],
    }


def _distribution_cases() -> dict[str, list[list[float]]]:
    """Arguments at which the special functions are compared with scipy.special."""
    t_cases = [
        [t, df]
        for df in [1, 2, 2.5, 7.3, 30, 151.7, 1e3, 2.3e4, 5e5]
        for t in [0.0, 1e-4, 0.3, 1.0, 2.5, 5.0, 12.0, 40.0]
    ]
    beta_cases = [
        [a, b, x]
        for a, b in [(0.5, 0.5), (1, 1), (2.5, 0.5), (10, 0.5), (250, 0.5), (3e5, 0.5),
                     (5, 7), (40, 60), (1e3, 2e3), (0.1, 30)]
        for x in [1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 0.999999]
    ]  # fmt: skip
    quantile_cases = [[p] for p in [1e-300, 1e-20, 1e-12, 1e-5, 0.01, 0.025, 0.3, 0.5, 0.975,
                                    0.999, 1 - 1e-12]]  # fmt: skip
    cdf_cases = [[z] for z in [-38.0, -20.0, -8.0, -3.0, -1.5, -0.2, 0.0, 0.1, 1.0, 2.5, 6.0]]
    return {
        "t_two_sided": t_cases,
        "beta_inc": beta_cases,
        "normal_quantile": quantile_cases,
        "normal_cdf": cdf_cases,
    }


def build_conserved_inputs() -> dict[str, Any]:
    """Per-group sums by cluster × dataset (cluster-major) of two real data sets."""
    import scanpy as sc

    from exprscope import datasets
    from exprscope.compute._matrix import group_codes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pbmc = sc.datasets.pbmc68k_reduced()
    raw = pbmc.raw.to_adata()
    pbmc_genes = list(
        raw.var_names[np.argsort(-raw.X.getnnz(axis=0), kind="stable")[:N_PBMC_CONSERVED_GENES]]
    )
    kang = datasets.kang_pbmc()
    cases = []
    for name, source, adata, genes, keys, min_cells in [
        (
            "kang",
            "exprscope.datasets.kang_pbmc(), X (log-normalised): cluster × dataset",
            kang,
            KANG_CONSERVED_GENES,
            ["cluster", "dataset"],
            5,  # cluster 7 has 3 control cells: left out, so the cluster is untested
        ),
        (
            "pbmc68k_phase",
            "scanpy.datasets.pbmc68k_reduced(), raw: bulk_labels × phase as datasets",
            raw,
            pbmc_genes,
            ["bulk_labels", "phase"],
            3,  # several cell types have 0–2 G2M cells: left out of their combination
        ),
    ]:
        codes, labels = group_codes(adata.obs, keys)
        moments = group_moments(adata[:, genes].X, codes, len(labels))
        cases.append(
            {
                "name": name,
                "source": source,
                "genes": genes,
                "group_labels": [
                    [str(c), str(d)] for c, d in zip(labels[keys[0]], labels[keys[1]], strict=True)
                ],
                "clusters": [str(c) for c in labels[keys[0]].cat.categories],
                "datasets": [str(d) for d in labels[keys[1]].cat.categories],
                "n": moments.n.tolist(),
                "sum": moments.sum.tolist(),
                "sum_sq": moments.sum_sq.tolist(),
                "log_base": None,
                "min_cells": min_cells,
                "alpha": 0.05,
                "n_top": 4,
            }
        )
    return {"cases": cases}


def compute_conserved_outputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """What ``exprscope.compute.markers`` computes from the conserved-markers inputs."""
    outputs = {}
    for case in inputs["cases"]:
        n_genes = len(case["genes"])
        n_groups = len(case["n"])
        moments = GroupMoments(
            n=np.asarray(case["n"], dtype=np.float64),
            sum=np.asarray(case["sum"], dtype=np.float64),
            sum_sq=np.asarray(case["sum_sq"], dtype=np.float64),
            nnz=np.zeros((n_groups, n_genes)),
            has_negative=np.zeros(n_genes, dtype=bool),
            total_n=float(np.sum(case["n"])),
            total_sum=np.sum(case["sum"], axis=0),
            total_sum_sq=np.sum(case["sum_sq"], axis=0),
        )
        n_clusters, n_datasets = len(case["clusters"]), len(case["datasets"])
        result: dict[str, Any] = {}
        for combine in ("max", "fisher"):
            stats = conserved_statistics(
                moments,
                n_clusters,
                n_datasets,
                combine=combine,
                alpha=case["alpha"],
                min_cells=case["min_cells"],
                log_base=case["log_base"],
            )
            if combine == "max":  # the per-dataset tests do not depend on the combination
                pairs = n_clusters * n_datasets
                result.update(
                    {
                        "tested": stats.tested.ravel().tolist(),
                        "n_cells": stats.n_cells.ravel().tolist(),
                        "n_rest": stats.n_rest.ravel().tolist(),
                        **{
                            key: getattr(stats, key).reshape(pairs, n_genes).tolist()
                            for key in ("score", "logfoldchange", "pval", "pval_adj")
                        },
                        "category": stats.category.tolist(),
                        "specific_to": stats.specific_to.tolist(),
                    }
                )
            top = conserved_top(stats, case["n_top"])
            # The table's per-dataset columns repeat the arrays above: not stored twice
            keys = ["cluster", "category", "specific_to", "rank", "gene", "combined_p"]
            result[combine] = {
                "combined_p": stats.combined_p.tolist(),
                "table": {column: top[column].tolist() for column in keys},
            }
        outputs[case["name"]] = result
    return outputs


def _write_json(path: Path, data: dict[str, Any], max_bytes: int) -> None:
    text = json.dumps(to_json_compatible(data), allow_nan=False, separators=(",", ":"))
    if len(text) > max_bytes:
        raise SystemExit(f"{path.name} is {len(text)} bytes, over the {max_bytes}-byte budget.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(f"wrote {path.relative_to(REPO)} ({len(text):,} bytes)")


def _moments_from_dict(stored: dict[str, Any]) -> GroupMoments:
    n_genes = len(stored["total_sum"])
    return GroupMoments(
        n=np.asarray(stored["n"], dtype=np.float64),
        sum=np.asarray(stored["sum"], dtype=np.float64),
        sum_sq=np.asarray(stored["sum_sq"], dtype=np.float64),
        nnz=np.zeros((len(stored["n"]), n_genes)),
        has_negative=np.zeros(n_genes, dtype=bool),
        total_n=float(stored["total_n"]),
        total_sum=np.asarray(stored["total_sum"], dtype=np.float64),
        total_sum_sq=np.asarray(stored["total_sum_sq"], dtype=np.float64),
    )


def _cell_matrix(inputs: dict[str, Any]) -> np.ndarray:
    """The slice as cells × genes float32, as the browser receives it."""
    return np.asarray(inputs["cells"]["values"], dtype=np.float32).T


def _grouping(inputs: dict[str, Any], name: str) -> tuple[np.ndarray, int]:
    grouping = inputs["cells"]["groupings"][name]
    return np.asarray(grouping["codes"], dtype=np.int64), len(grouping["categories"])


def _markers_frame_to_dict(frame) -> list[dict[str, Any]]:
    return [
        {key: (int(v) if key in ("group", "rank", "gene") else float(v)) for key, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def compute_outputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """What the Python implementation computes from the inputs."""
    values = _cell_matrix(inputs)
    louvain, n_louvain = _grouping(inputs, "louvain")
    phase, n_phase = _grouping(inputs, "phase")
    crossed = np.where(louvain >= 0, phase * n_louvain + louvain, -1)

    aggregates = {}
    for name, codes, n_groups, linear in [
        ("louvain", louvain, n_louvain, False),
        ("louvain_linear_mean", louvain, n_louvain, True),
        ("phase_x_louvain", crossed, n_phase * n_louvain, False),
    ]:
        moments = group_moments(values, codes, n_groups, linear_mean=linear)
        stats = summarise(moments, linear_mean=linear, min_cells=inputs["min_cells"])
        aggregates[name] = {
            "n_cells": stats["n_cells"].tolist(),
            "mean": stats["mean"].T.tolist(),  # genes × groups, as the heatmap
            "var": stats["var"].T.tolist(),
            "frac_expressing": stats["frac_expressing"].T.tolist(),
            "sum": moments.sum.T.tolist(),
            "sum_sq": moments.sum_sq.T.tolist(),
        }

    heatmap = np.asarray(aggregates["phase_x_louvain"]["mean"], dtype=np.float64)
    scaled = {}
    for name, method, clip in [
        ("zscore", "zscore", 2.5),
        ("zscore_unclipped", "zscore", None),
        ("minmax", "minmax", None),
    ]:
        matrix, constant = scale_rows(heatmap, method, clip=clip)
        scaled[name] = {"matrix": matrix.tolist(), "constant_rows": constant.tolist()}

    clusterings = {}
    full_heatmap = np.asarray(inputs["heatmap"]["matrix"], dtype=np.float64)
    for metric in ("euclidean", "correlation"):
        for axis in ("rows", "columns"):
            result = hclust(full_heatmap, metric=metric, axis=axis)
            clusterings[f"{metric}_{axis}"] = {
                "linkage": result.linkage.tolist(),
                "leaves": result.leaves,
                "icoord": result.icoord,
                "dcoord": result.dcoord,
            }

    slice_moments = group_moments(values, louvain, n_louvain)
    markers = {
        "from_cells": _markers_frame_to_dict(welch_markers(slice_moments, n_top=5)),
        "from_moments": _markers_frame_to_dict(
            welch_markers(_moments_from_dict(inputs["marker_moments"]), n_top=10)
        ),
    }

    genes = inputs["cells"]["genes"]
    correlations = []
    for gene_x, gene_y in inputs["gene_pairs"]:
        x = values[:, genes.index(gene_x)]
        y = values[:, genes.index(gene_y)]
        for grouping, codes, n_groups in [
            ("louvain", louvain, n_louvain),
            ("phase", phase, n_phase),
        ]:
            bootstrap = inputs["bootstrap"][grouping]
            for detected_only in (False, True):
                correlations.append(
                    {
                        "gene_x": gene_x,
                        "gene_y": gene_y,
                        "grouping": grouping,
                        "detected_only": detected_only,
                        **bootstrap,
                        "groups": correlate_groups(
                            x, y, codes, n_groups, detected_only=detected_only, **bootstrap
                        ),
                    }
                )

    cases = inputs["distributions"]
    distributions = {
        "t_two_sided": [float(2 * special.stdtr(df, -abs(t))) for t, df in cases["t_two_sided"]],
        "beta_inc": [float(special.betainc(a, b, x)) for a, b, x in cases["beta_inc"]],
        "normal_quantile": [float(special.ndtri(p)) for (p,) in cases["normal_quantile"]],
        "normal_cdf": [float(special.ndtr(z)) for (z,) in cases["normal_cdf"]],
    }
    pairs = np.asarray(inputs["correlation_differences"], dtype=np.float64)
    differences = fisher_z_difference(pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3])
    return {
        "correlation_differences": {key: value.tolist() for key, value in differences.items()},
        "aggregates": aggregates,
        "scaled": scaled,
        "hclust": clusterings,
        "markers": markers,
        "correlations": correlations,
        "distributions": distributions,
    }


def to_json_compatible(value: Any) -> Any:
    """NaN → null (JSON has no NaN); numpy scalars → Python numbers."""
    if isinstance(value, dict):
        return {k: to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_compatible(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def main() -> None:
    inputs = build_inputs()
    fixture = {
        "description": (
            "Inputs (real pbmc68k_reduced data) and the outputs of exprscope.compute "
            "(Python) for the cross-implementation test. Generated by "
            "scripts/make_compute_fixtures.py; null stands for NaN."
        ),
        "inputs": inputs,
        "outputs": compute_outputs(inputs),
    }
    _write_json(FIXTURE, fixture, MAX_BYTES)
    conserved_inputs = build_conserved_inputs()
    conserved = {
        "description": (
            "Inputs (per-group sums of real data by cluster × dataset) and the conserved-"
            "markers outputs of exprscope.compute.markers (Python) for the cross-implementation "
            "test. Generated by scripts/make_compute_fixtures.py; null stands for NaN."
        ),
        "inputs": conserved_inputs,
        "outputs": compute_conserved_outputs(conserved_inputs),
    }
    _write_json(CONSERVED_FIXTURE, conserved, CONSERVED_MAX_BYTES)


if __name__ == "__main__":
    main()
