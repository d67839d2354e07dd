"""Adapter for TileDB-SOMA experiments (``tiledbsoma.Experiment``) in the user namespace.

The experiment's measurement ``"RNA"`` (else its first measurement) is read: its X layers are
the matrices ``"X/<layer>"`` (``tiledbsoma.io.from_anndata`` stores AnnData's X as
``"X/data"`` and each layer under its name), obs columns and obsm embeddings as in AnnData.
Genes are read with axis queries on their var joinids; per-group sums stream the layer's
stored values in Arrow batches (``ExperimentAxisQuery.X(...).tables()``), so only
statistics are held in memory and cross the comm.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from ..kernel.protocol import NOT_SUPPORTED, UNKNOWN_COLUMN, UNKNOWN_MATRIX, ProtocolError
from ._describe import _describe_obs_column, _strings, column_guesses_of
from ._replies import check_obs_columns
from ._stats import MomentsAccumulator, check_group_stats_size, without_nan_genes
from .base import (
    DEFAULT_MARKERS_KEY,
    EMBEDDING_DIMS,
    Adapter,
    identity_token,
    is_imported_instance,
    register_adapter,
)
from .outofcore import check_scan_size, dask_compute, tree_sum, user_dask_client

if TYPE_CHECKING:
    from ._replies import Grouping
    from .base import GeneSums

MEASUREMENT = "RNA"
#: Columns ``from_anndata`` adds for the AnnData obs/var names (its defaults).
OBS_ID, VAR_ID, JOINID = "obs_id", "var_id", "soma_joinid"
ENGINE = "tiledbsoma (axis query)"
#: Cells per task when a layer's statistics run on the user's Dask cluster (a task holds its
#: cells' stored values of the requested genes: 250,000 cells × 50 genes × 8 % ≈ 1 M values).
SOMA_TASK_CELLS = 250_000


@register_adapter
class SomaExperimentAdapter(Adapter):
    type_name = "tiledbsoma.Experiment"
    engine = ENGINE

    @classmethod
    def accepts(cls, obj: Any) -> bool:
        return is_imported_instance(obj, "tiledbsoma", "Experiment")

    # -- the experiment's parts ----------------------------------------------------------------

    @cached_property
    def _measurement_name(self) -> str:
        names = list(self.obj.ms.keys())
        if not names:
            raise ProtocolError(NOT_SUPPORTED, "This TileDB-SOMA experiment has no measurement.")
        return MEASUREMENT if MEASUREMENT in names else names[0]

    @property
    def _measurement(self) -> Any:
        return self.obj.ms[self._measurement_name]

    @cached_property
    def _obs(self) -> pd.DataFrame:
        frame = self.obj.obs.read().concat().to_pandas()
        return frame.sort_values(JOINID, kind="stable").reset_index(drop=True)

    @cached_property
    def _var(self) -> pd.DataFrame:
        frame = self._measurement.var.read().concat().to_pandas()
        return frame.sort_values(JOINID, kind="stable").reset_index(drop=True)

    @cached_property
    def _genes(self) -> pd.Index:
        var = self._var
        return pd.Index((var[VAR_ID] if VAR_ID in var else var[JOINID]).astype(str))

    def _obs_positions(self, joinids: np.ndarray) -> np.ndarray:
        """Positions (rows of ``_obs``) of obs joinids."""
        return np.searchsorted(self._obs[JOINID].to_numpy(), joinids)

    def _var_joinids(self) -> np.ndarray:
        return self._var[JOINID].to_numpy()

    def _obs_column_names(self) -> list[str]:
        return [str(c) for c in self._obs.columns if c not in (JOINID, OBS_ID)]

    # -- Adapter -------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.obj.obs.count), int(self._measurement.var.count)

    def fingerprint(self) -> str:
        """The experiment object, its URI and shape, and the names of its layers, obs columns
        and embeddings. Writes to the arrays through another handle are not seen."""
        digest = hashlib.blake2b(digest_size=8)
        measurement = self._measurement
        parts = (
            identity_token(self.obj),
            self.obj.uri,
            self.shape,
            sorted(measurement.X.keys()),
            sorted(measurement.obsm.keys()) if "obsm" in measurement else [],
            self.obj.obs.schema.names,
        )
        digest.update(repr(parts).encode())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        obs = [_describe_obs_column(name, self._obs[name]) for name in self._obs_column_names()]
        n_vars = self.shape[1]
        return {
            **self.summary(),
            "obs": obs,
            "genes": _strings(self._genes),
            "matrices": [
                {
                    "id": f"X/{layer}",
                    "label": f"{self._measurement_name}.X[{layer!r}]",
                    "n_vars": n_vars,
                    "dtype": str(self._measurement.X[layer].schema.field("soma_data").type),
                    "storage": "tiledbsoma",
                }
                for layer in self._measurement.X.keys()
            ],
            "embeddings": [
                {"name": name, "n_dims": int(array.shape[1])}
                for name, array in self._obsm().items()
                if len(array.shape) == 2 and array.shape[1] >= 2
            ],
            "guesses": column_guesses_of(obs),
            "stored_markers": [],
            "execution": {
                "path": "kernel",
                "reason": "TileDB-SOMA experiment: statistics are computed with TileDB-SOMA "
                "queries, "
                + (
                    "as Dask reductions on your dask.distributed client."
                    if user_dask_client() is not None
                    else "in the kernel."
                ),
            },
        }

    def stored_markers(
        self, groupby: str, n: int, key: str = DEFAULT_MARKERS_KEY
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        self._obs_columns([groupby])
        return None, {
            "available": False,
            "reason": "TileDB-SOMA experiments hold no stored rank_genes_groups results.",
            "fingerprint": self.fingerprint(),
        }

    # -- reading hooks (Adapter's): a source is a layer name -----------------------------------

    def _source(self, matrix: str) -> str:
        layers = list(self._measurement.X.keys())
        layer = matrix[len("X/") :] if matrix.startswith("X/") else None
        if layer not in layers:
            raise ProtocolError(
                UNKNOWN_MATRIX,
                f"No matrix {matrix!r}; available: {', '.join(f'X/{k}' for k in layers)}.",
            )
        tiledbsoma = sys.modules["tiledbsoma"]
        if not isinstance(self._measurement.X[layer], tiledbsoma.SparseNDArray):
            raise ProtocolError(
                NOT_SUPPORTED, f"X layer {layer!r} is not a SparseNDArray; exprscope reads those."
            )
        return layer

    def _gene_names(self, source: str) -> pd.Index:
        return self._genes

    def _cell_ids(self) -> list[str]:
        return _strings(self._obs[OBS_ID] if OBS_ID in self._obs else self._obs[JOINID])

    def _gene_block(self, source: str, positions: np.ndarray) -> tuple[Any, dict[str, Any]]:
        # Genes travel dense or as their non-zeros (fetch_payload.py): read them sparse
        return self._read_sparse_columns(source, positions), {}

    def _gene_values(
        self, source: str, positions: np.ndarray, dtype: type = np.float32
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return self._read_columns(source, positions, dtype), {}

    def _moments(
        self, source: str, columns: np.ndarray, grouping: Grouping, expm1: bool
    ) -> GeneSums:
        check_group_stats_size(grouping.n_groups, columns.size)
        check_scan_size(grouping.n_cells_total, columns.size, "a TileDB-SOMA layer")
        var_joinids = self._var_joinids()
        # Every gene asked for: read the whole layer, without a var query
        wanted = None if columns.size == len(self._genes) else var_joinids[columns]
        genes = GeneLookup.of(var_joinids, columns)
        if user_dask_client() is not None and self.shape[0] > 0:
            return self._moments_on_cluster(source, genes, wanted, grouping, expm1)
        accumulator = MomentsAccumulator(grouping.n_groups, columns.size, expm1)
        obs_joinids = self._obs[JOINID].to_numpy()
        for batch in self._batches(source, wanted):
            add_batch(batch, obs_joinids, genes, grouping.codes, accumulator)
        kept, sums = without_nan_genes(accumulator.sums)
        return kept, sums, {"engine": ENGINE}

    def _moments_on_cluster(
        self,
        source: str,
        genes: GeneLookup,
        wanted: np.ndarray | None,
        grouping: Grouping,
        expm1: bool,
    ) -> GeneSums:
        """The sums as Dask reductions on the user's client: each task opens the experiment by
        its URI and sums one range of cells; only the sums (kilobytes) come back."""
        from dask import delayed

        obs_joinids = self._obs[JOINID].to_numpy()
        n_groups = grouping.n_groups
        # The codes travel in the graph: 10⁷ cells are 10 MB as int8
        codes = grouping.codes.astype(np.min_scalar_type(-max(n_groups, 2)), copy=False)
        # One copy of the gene lookup in the graph, whatever the number of tasks
        shared = delayed(genes, pure=True)
        parts = [
            delayed(soma_range_moments)(
                self.obj.uri,
                self._measurement_name,
                source,
                obs_joinids[start : start + SOMA_TASK_CELLS],
                codes[start : start + SOMA_TASK_CELLS],
                shared,
                wanted,
                n_groups,
                expm1,
            )
            for start in range(0, obs_joinids.size, SOMA_TASK_CELLS)
        ]
        sums, engine = dask_compute(tree_sum(parts))
        kept, sums = without_nan_genes(sums)
        return kept, sums, {"engine": f"{ENGINE}, on {engine}"}

    def _obs_columns(self, names: Sequence[str]) -> dict[str, pd.Series]:
        check_obs_columns(names, self._obs_column_names())
        return {name: self._obs[name] for name in names}

    def _obsm(self) -> dict[str, Any]:
        measurement = self._measurement
        return dict(measurement.obsm.items()) if "obsm" in measurement else {}

    def _embedding(self, name: str) -> np.ndarray:
        array = self._obsm().get(name)
        if array is None or len(array.shape) != 2 or array.shape[1] < 2:
            raise ProtocolError(
                UNKNOWN_COLUMN, f"No embedding {name!r} in obsm.", {"embedding": name}
            )
        table = array.read().tables().concat()
        coordinates = np.zeros((self.shape[0], EMBEDDING_DIMS), dtype=np.float32)
        dims = table.column("soma_dim_1").to_numpy()
        inside = dims < EMBEDDING_DIMS
        rows = self._obs_positions(table.column("soma_dim_0").to_numpy()[inside])
        coordinates[rows, dims[inside]] = table.column("soma_data").to_numpy()[inside]
        return coordinates

    def _batches(self, layer: str, var_joinids: np.ndarray | None) -> Any:
        """Arrow batches (COO: soma_dim_0, soma_dim_1, soma_data) of a layer, all genes or
        those with the given var joinids."""
        tiledbsoma = sys.modules["tiledbsoma"]
        var_query = None
        if var_joinids is not None:
            var_query = tiledbsoma.AxisQuery(coords=(np.asarray(var_joinids, dtype=np.int64),))
        with self.obj.axis_query(self._measurement_name, var_query=var_query) as query:
            yield from query.X(layer).tables()

    def _read_sparse_columns(self, layer: str, positions: np.ndarray) -> sparse.csc_matrix:
        """Cells × the genes at ``positions`` as a CSC matrix of the stored entries (float32),
        never densified."""
        n_obs = self.shape[0]
        if len(positions) == 0:
            return sparse.csc_matrix((n_obs, 0), dtype=np.float32)
        joinids = self._var_joinids()
        unique, inverse = np.unique(positions, return_inverse=True)
        rows, columns, values = [], [], []
        for batch in self._batches(layer, joinids[unique]):
            rows.append(self._obs_positions(batch.column("soma_dim_0").to_numpy()))
            genes = np.searchsorted(joinids, batch.column("soma_dim_1").to_numpy())
            columns.append(np.searchsorted(unique, genes))
            values.append(batch.column("soma_data").to_numpy().astype(np.float32, copy=False))
        if not rows:
            return sparse.csc_matrix((n_obs, len(positions)), dtype=np.float32)
        matrix = sparse.coo_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
            shape=(n_obs, unique.size),
        ).tocsc()
        return matrix[:, inverse]

    def _read_columns(self, layer: str, positions: np.ndarray, dtype: type) -> np.ndarray:
        """Cells × the genes at ``positions`` (column-major), zeros where nothing is stored."""
        n_obs = self.shape[0]
        values = np.zeros((n_obs, len(positions)), dtype=dtype, order="F")
        if len(positions) == 0:
            return values
        joinids = self._var_joinids()
        unique = np.unique(positions)
        for batch in self._batches(layer, joinids[unique]):
            rows = self._obs_positions(batch.column("soma_dim_0").to_numpy())
            genes = np.searchsorted(joinids, batch.column("soma_dim_1").to_numpy())
            data = batch.column("soma_data").to_numpy()
            for i in np.flatnonzero(np.isin(positions, genes)):
                hit = genes == positions[i]
                values[rows[hit], i] = data[hit]
        return values


@dataclass(frozen=True)
class GeneLookup:
    """Where a layer's stored values go among the requested genes: ``joinids`` (sorted var
    joinids of those genes) and ``local`` (each one's column among the requested)."""

    joinids: np.ndarray
    local: np.ndarray
    n_columns: int

    @classmethod
    def of(cls, var_joinids: np.ndarray, columns: np.ndarray) -> GeneLookup:
        """For the genes at ``columns`` (positions among the sorted ``var_joinids``)."""
        order = np.argsort(var_joinids[columns], kind="stable")
        return cls(var_joinids[columns][order], order.astype(np.int64), columns.size)


def add_batch(
    batch: Any,
    obs_joinids: np.ndarray,
    genes: GeneLookup,
    codes: np.ndarray,
    accumulator: MomentsAccumulator,
) -> None:
    """Add a COO batch of a layer (soma_dim_0, soma_dim_1, soma_data) to ``accumulator``:
    its cells are positions among ``obs_joinids`` (sorted; ``codes`` their groups)."""
    rows = np.searchsorted(obs_joinids, batch.column("soma_dim_0").to_numpy())
    cols = genes.local[np.searchsorted(genes.joinids, batch.column("soma_dim_1").to_numpy())]
    values = batch.column("soma_data").to_numpy()
    # A batch holds stored values of some cells: sums add up over any split of them
    cells, local_rows = np.unique(rows, return_inverse=True)
    block = sparse.csr_matrix((values, (local_rows, cols)), shape=(cells.size, genes.n_columns))
    accumulator.add(block, np.asarray(codes)[cells])


def soma_range_moments(
    uri: str,
    measurement: str,
    layer: str,
    obs_joinids: np.ndarray,
    codes: np.ndarray,
    genes: GeneLookup,
    wanted: np.ndarray | None,
    n_groups: int,
    expm1: bool,
) -> dict[str, Any]:
    """One Dask task of :meth:`SomaExperimentAdapter._moments_on_cluster`: the sums of the
    cells with ``obs_joinids`` (sorted; ``codes`` their groups), read in the worker from the
    experiment at ``uri``."""
    import tiledbsoma

    accumulator = MomentsAccumulator(n_groups, genes.n_columns, expm1)
    # A range of joinids is a slice (inclusive); anything else goes as the coordinates
    first, last = int(obs_joinids[0]), int(obs_joinids[-1])
    contiguous = last - first + 1 == obs_joinids.size
    obs_query = tiledbsoma.AxisQuery(
        coords=(slice(first, last) if contiguous else obs_joinids.astype(np.int64),)
    )
    var_query = None if wanted is None else tiledbsoma.AxisQuery(coords=(wanted,))
    with (
        tiledbsoma.Experiment.open(uri) as experiment,
        experiment.axis_query(measurement, obs_query=obs_query, var_query=var_query) as query,
    ):
        for batch in query.X(layer).tables():
            add_batch(batch, obs_joinids, genes, codes, accumulator)
    return accumulator.sums
