"""How ``describe`` reports an AnnData's obs columns and uns entries, and the columns it guesses
(dataset, cluster, sample): shared by the adapters and the notebook API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..api import stored_markers_info

#: Object, string, boolean and integer obs columns with at most this many distinct values are
#: treated as categorical (clusters are often stored as integers or plain strings).
MAX_CATEGORIES = 200

#: Column names tried, in order and case-insensitively, for ``guesses``.
DATASET_COLUMN_NAMES = ("dataset", "sample", "orig.ident", "batch", "condition", "stim", "donor")
CLUSTER_COLUMN_NAMES = (
    "leiden",
    "louvain",
    "seurat_clusters",
    "cluster",
    "clusters",
    "cell_type",
    "celltype",
    "cell_types",
)
#: Columns guessed as the sample (replicate, donor) column, in order (case-insensitive).
SAMPLE_COLUMN_NAMES = (
    "sample",
    "sample_id",
    "samples",
    "donor",
    "donor_id",
    "orig.ident",
    "replicate",
    "patient",
    "patient_id",
    "individual",
    "ind",
    "subject",
)

CATEGORICAL, NUMERIC, OTHER = "categorical", "numeric", "other"


def _column_kind(column: pd.Series) -> str:
    """``categorical``, ``numeric`` or ``other``, as in the ``describe`` result."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_integer_dtype(dtype):
        return CATEGORICAL if _n_unique(column) <= MAX_CATEGORIES else NUMERIC
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        n_unique = _n_unique(column)
        return CATEGORICAL if n_unique is not None and n_unique <= MAX_CATEGORIES else OTHER
    return OTHER


def _n_unique(column: pd.Series) -> int | None:
    """Distinct non-null values; None when the values are not hashable (lists, dicts)."""
    try:
        return int(column.nunique())
    except TypeError:
        return None


def _as_categorical(column: pd.Series) -> pd.Categorical:
    """Categorical columns as they are; other columns with their sorted distinct values as
    categories (values of mixed, unorderable types are compared as text)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array
    try:
        return pd.Categorical(column)
    except TypeError:
        return pd.Categorical(column.map(str, na_action="ignore"))


def _describe_obs_column(name: str, column: pd.Series) -> dict[str, Any]:
    kind = _column_kind(column)
    if kind != CATEGORICAL:
        return {"name": name, "kind": kind, "n_unique": _n_unique(column)}
    categorical = _as_categorical(column)
    codes = categorical.codes
    counts = np.bincount(codes[codes >= 0], minlength=len(categorical.categories))
    return {
        "name": name,
        "kind": kind,
        "n_unique": len(categorical.categories),
        "categories": [
            {"name": category, "n_cells": int(count)}
            for category, count in zip(_strings(categorical.categories), counts, strict=True)
        ],
    }


def _obs_to_arrow(column: pd.Series) -> pa.Array:
    """Numeric columns as float64 (missing values as NaN); everything else as a dictionary
    of utf8 in category order, with missing values as nulls. The indices keep pandas's
    width for the codes (int8 below 127 categories, then int16): a million cells' codes are
    1 MB instead of 4."""
    if _column_kind(column) == NUMERIC:
        return pa.array(column.to_numpy(dtype=np.float64, na_value=np.nan))
    categorical = _as_categorical(column)
    codes = categorical.codes
    if codes.dtype.itemsize > 4:
        codes = codes.astype(np.int32)
    missing = codes < 0
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, mask=missing if missing.any() else None),
        pa.array(_strings(categorical.categories), type=pa.utf8()),
    )


def _is_embedding(value: Any) -> bool:
    shape = getattr(value, "shape", ())
    return len(shape) == 2 and shape[1] >= 2


def column_guesses_of(obs: list[dict[str, Any]]) -> dict[str, str | None]:
    """``describe``'s ``guesses`` from its ``obs`` entries: the dataset, cluster and sample
    (replicate, donor) columns the sidebar starts with."""
    dataset = _guess(obs, DATASET_COLUMN_NAMES, min_categories=2)
    return {
        "dataset": dataset,
        "cluster": _guess(obs, CLUSTER_COLUMN_NAMES, min_categories=1),
        "sample": guess_sample(obs, dataset),
    }


def guess_sample(obs: list[dict[str, Any]], dataset: str | None) -> str | None:
    """The first of :data:`SAMPLE_COLUMN_NAMES` (case-insensitive) that is a categorical obs
    column other than ``dataset`` with at least two non-empty categories and, when a dataset
    column is given, at least as many as it (samples nest in, or cross, the datasets)."""
    by_name = {column["name"]: column for column in obs}
    n_datasets = (
        sum(category["n_cells"] > 0 for category in by_name[dataset]["categories"])
        if dataset in by_name and by_name[dataset]["kind"] == CATEGORICAL
        else 1
    )
    others = [column for column in obs if column["name"] != dataset]
    return _guess(others, SAMPLE_COLUMN_NAMES, min_categories=max(2, n_datasets))


def _guess(obs: list[dict[str, Any]], names: Sequence[str], min_categories: int) -> str | None:
    """The first of ``names`` (case-insensitive) that is a categorical obs column with at least
    ``min_categories`` non-empty categories."""
    by_lower_name: dict[str, dict[str, Any]] = {}
    for column in obs:
        by_lower_name.setdefault(column["name"].lower(), column)
    for name in names:
        column = by_lower_name.get(name)
        if column is None or column["kind"] != CATEGORICAL:
            continue
        if sum(category["n_cells"] > 0 for category in column["categories"]) >= min_categories:
            return column["name"]
    return None


def _readable_stored_markers(uns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``describe`` entry ``stored_markers``: readable rank_genes_groups results."""
    entries = []
    for key, value in uns.items():
        info = stored_markers_info(value)
        if info is not None:
            entries.append(
                {
                    "key": str(key),
                    "groupby": info.groupby,
                    "method": info.method,
                    "matrix": info.matrix,
                }
            )
    return entries


def _log1p_base(uns: Mapping[str, Any]) -> float | None:
    """``uns['log1p']['base']`` (set by ``sc.pp.log1p(base=...)``), None for natural log."""
    log1p = uns.get("log1p")
    base = log1p.get("base") if isinstance(log1p, Mapping) else None
    if isinstance(base, np.ndarray):
        base = base.ravel()[0] if base.size else None
    try:
        base = None if base is None else float(base)
    except (TypeError, ValueError):
        return None
    return base if base is not None and np.isfinite(base) and base > 0 else None


def _strings(values: Any) -> list[str]:
    return [str(value) for value in values]
