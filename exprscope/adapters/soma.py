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
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from ..kernel.protocol import NOT_SUPPORTED, UNKNOWN_COLUMN, UNKNOWN_MATRIX, ProtocolError
from ._describe import _describe_obs_column, _obs_to_arrow, _strings, column_guesses_of
from ._stats import DEFAULT_MAX_SAMPLE, SPEARMAN_EXACT, MomentsAccumulator, check_group_stats_size
from .anndata import (
    ALL_NAN,
    EMBEDDING_DIMS,
    NOT_IN_MATRIX,
    _gene_positions,
    _group_stats_reply,
    _grouping,
    _pair_stats_reply,
    _requested_columns,
)
from .base import (
    CELL_ID_COLUMN,
    DEFAULT_MARKERS_KEY,
    Adapter,
    embedding_column,
    identity_token,
    obs_column,
    register_adapter,
)
from .fetch_payload import FetchTables, GeneColumns

MEASUREMENT = "RNA"
#: Columns ``from_anndata`` adds for the AnnData obs/var names (its defaults).
OBS_ID, VAR_ID, JOINID = "obs_id", "var_id", "soma_joinid"
ENGINE = "tiledbsoma (axis query)"


@register_adapter
class SomaExperimentAdapter(Adapter):
    type_name = "tiledbsoma.Experiment"

    @classmethod
    def accepts(cls, obj: Any) -> bool:
        tiledbsoma = sys.modules.get("tiledbsoma")
        return tiledbsoma is not None and isinstance(obj, tiledbsoma.Experiment)

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
        n_obs, n_vars = self.shape
        return {
            "type": self.type_name,
            "n_obs": n_obs,
            "n_vars": n_vars,
            "fingerprint": self.fingerprint(),
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
                "reason": "TileDB-SOMA experiment: statistics are computed in the kernel "
                "with TileDB-SOMA queries.",
            },
        }

    def fetch(
        self,
        matrix: str,
        genes: Sequence[str],
        obs: Sequence[str] = (),
        embedding: str | None = None,
        cell_ids: bool = False,
    ) -> tuple[FetchTables, dict[str, Any]]:
        layer = self._layer(matrix)
        obs_columns = self._obs_columns(obs)
        coordinates = self._embedding(embedding) if embedding is not None else None
        positions = _gene_positions(self._genes, genes)
        missing_reason = {
            gene: NOT_IN_MATRIX for gene, p in zip(genes, positions, strict=True) if p < 0
        }
        found = [gene for gene, p in zip(genes, positions, strict=True) if p >= 0]
        # Genes travel dense or as their non-zeros (fetch_payload.py): read them sparse
        gene_columns = GeneColumns(self.shape[0])
        gene_columns.add_block(found, self._read_sparse_columns(layer, positions[positions >= 0]))
        for gene in gene_columns.all_nan:
            missing_reason[gene] = ALL_NAN
        columns: dict[str, pa.Array] = {}
        for name, column in obs_columns.items():
            columns[obs_column(name)] = _obs_to_arrow(column)
        if coordinates is not None:
            for dim in range(coordinates.shape[1]):
                columns[embedding_column(embedding, dim)] = pa.array(coordinates[:, dim])
        if cell_ids:
            ids = self._obs[OBS_ID] if OBS_ID in self._obs else self._obs[JOINID]
            columns[CELL_ID_COLUMN] = pa.array(_strings(ids), type=pa.utf8())
        missing = [gene for gene in genes if gene in missing_reason]
        result = {
            "fingerprint": self.fingerprint(),
            "n_obs": self.shape[0],
            "matrix": matrix,
            "genes": [gene for gene in found if gene not in missing_reason],
            "missing": missing,
            "missing_reason": {gene: missing_reason[gene] for gene in missing},
        }
        return gene_columns.tables(columns), result

    def group_stats(
        self,
        matrix: str,
        groupby: Sequence[str],
        genes: Sequence[str] | None = None,
        expm1: bool = False,
    ) -> tuple[pa.Table, dict[str, Any]]:
        layer = self._layer(matrix)
        grouping = _grouping(self._obs_columns(groupby))
        columns, missing = _requested_columns(self._genes, genes)
        check_group_stats_size(grouping.n_groups, columns.size)
        accumulator = MomentsAccumulator(grouping.n_groups, columns.size, expm1)
        # Positions of the var joinids among the requested columns (−1: not requested)
        local = np.full(len(self._genes), -1, dtype=np.int64)
        local[columns] = np.arange(columns.size)
        var_positions = self._var_joinids()
        subset = None if genes is None else var_positions[columns]
        for batch in self._batches(layer, subset):
            rows = self._obs_positions(batch.column("soma_dim_0").to_numpy())
            cols = local[np.searchsorted(var_positions, batch.column("soma_dim_1").to_numpy())]
            values = batch.column("soma_data").to_numpy()
            # A batch holds stored values of some cells: sums add up over any split of them
            cells, local_rows = np.unique(rows, return_inverse=True)
            block = sparse.csr_matrix(
                (values, (local_rows, cols)), shape=(cells.size, columns.size)
            )
            accumulator.add(block, grouping.codes[cells])
        sums = accumulator.sums
        kept = np.flatnonzero(~sums.pop("has_nan"))
        sums = {key: None if value is None else value[..., kept] for key, value in sums.items()}
        return _group_stats_reply(
            matrix=matrix,
            groupby=groupby,
            grouping=grouping,
            genes=self._genes[columns],
            kept=kept,
            sums=sums,
            expm1=expm1,
            missing=missing,
            requested=genes is not None,
            log1p_base=None,
            fingerprint=self.fingerprint(),
            notes={"engine": ENGINE},
        )

    def pair_stats(
        self,
        matrix: str,
        gene_x: str,
        gene_y: str,
        groupby: Sequence[str],
        *,
        detected_only: bool = False,
        spearman: str = SPEARMAN_EXACT,
        max_sample: int = DEFAULT_MAX_SAMPLE,
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        layer = self._layer(matrix)
        grouping = _grouping(self._obs_columns(groupby))
        positions = _gene_positions(self._genes, [gene_x, gene_y])
        values = np.empty((self.shape[0], 0))
        if (positions >= 0).all():
            values = self._read_columns(layer, positions, np.float64)
        return _pair_stats_reply(
            matrix=matrix,
            genes=(gene_x, gene_y),
            positions=positions,
            values=values,
            groupby=groupby,
            grouping=grouping,
            detected_only=detected_only,
            spearman=spearman,
            max_sample=max_sample,
            fingerprint=self.fingerprint(),
            notes={"engine": ENGINE},
        )

    def stored_markers(
        self, groupby: str, n: int, key: str = DEFAULT_MARKERS_KEY
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        self._obs_columns([groupby])
        return None, {
            "available": False,
            "reason": "TileDB-SOMA experiments hold no stored rank_genes_groups results.",
            "fingerprint": self.fingerprint(),
        }

    # -- helpers -------------------------------------------------------------------------------

    def _layer(self, matrix: str) -> str:
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

    def _obs_columns(self, names: Sequence[str]) -> dict[str, pd.Series]:
        known = self._obs_column_names()
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ProtocolError(
                UNKNOWN_COLUMN,
                f"No obs column {', '.join(map(repr, unknown))}.",
                {"columns": unknown},
            )
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
