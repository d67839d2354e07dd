"""The ``fetch`` payload: gene columns sent dense or as their non-zeros (docs/protocol.md,
"fetch payload").

Single-cell matrices are ~92% zeros, so a gene column sent dense (4 bytes per cell) is mostly
zeros on the wire. Each gene travels in whichever encoding is smaller:

- **dense**: a float32 column ``gene:<name>`` of the *cells table* (one row per cell, with the
  obs columns, the embedding and the cell ids), as in protocol 1;
- **sparse**: one row of the *sparse genes table*: ``gene`` (utf8), ``indices``
  (list<int32>: the cells, ascending, whose value is not +0.0) and ``values`` (list<float32>,
  the values at those cells), 8 bytes per non-zero. A gene is sparse when
  ``nnz × 8 ≤ n_obs × 4``, i.e. at most half its cells are non-zero.

The payload is the cells table's Arrow IPC stream followed, when any gene is sparse, by the
sparse genes table's stream. Both schemas carry ``exprscope.table`` (``cells`` /
``sparse_genes``) and ``exprscope.n_obs`` metadata, so a decoder can size the dense columns
even when the cells table has no column at all.

"Zero" means the bit pattern of +0.0: NaN, −0.0 and every other value are sent, so the
decoded columns equal the float32 values bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse

from ..kernel.protocol import MAX_CELLS_PER_BATCH, MAX_CHUNK_BYTES
from .base import gene_column

TABLE_KEY = b"exprscope.table"
N_OBS_KEY = b"exprscope.n_obs"
CELLS_TABLE = b"cells"
SPARSE_GENES_TABLE = b"sparse_genes"

SPARSE_GENE_FIELDS = ("gene", "indices", "values")
SPARSE_GENES_SCHEMA = pa.schema(
    [
        pa.field("gene", pa.utf8(), nullable=False),
        pa.field("indices", pa.list_(pa.field("item", pa.int32(), nullable=False))),
        pa.field("values", pa.list_(pa.field("item", pa.float32(), nullable=False))),
    ]
)

#: Bytes per cell of a dense float32 column and per non-zero of a sparse one.
DENSE_BYTES_PER_CELL = 4
SPARSE_BYTES_PER_NONZERO = 8


def sends_sparse(nnz: int, n_obs: int) -> bool:
    """Whether a gene with ``nnz`` non-zeros among ``n_obs`` cells travels sparse (dense only
    when dense is smaller)."""
    return nnz * SPARSE_BYTES_PER_NONZERO <= n_obs * DENSE_BYTES_PER_CELL


@dataclass
class FetchTables:
    """A ``fetch`` reply's tables: the cells table and the sparse genes (or None)."""

    cells: pa.Table
    sparse_genes: pa.Table | None
    n_obs: int

    def ipc_stream(self) -> pa.Buffer:
        """The payload: the cells table's IPC stream, then the sparse genes' when there are
        any, each in record batches of about one ``MAX_CHUNK_BYTES`` chunk."""
        sink = pa.BufferOutputStream()
        _write_stream(sink, self.cells, _cells_per_batch(self.cells))
        if self.sparse_genes is not None:
            _write_stream(sink, self.sparse_genes, _genes_per_batch(self.sparse_genes))
        return sink.getvalue()

    def dense_table(self, genes: Sequence[str] | None = None) -> pa.Table:
        """The protocol-1 table: every gene as a dense float32 column, in the order of
        ``genes`` when given (for tests and comparisons; the kernel never builds it)."""
        return dense_table(self.cells, self.sparse_genes, self.n_obs, genes)

    def equals(self, other: FetchTables) -> bool:
        if self.n_obs != other.n_obs or not self.cells.equals(other.cells, check_metadata=True):
            return False
        if self.sparse_genes is None or other.sparse_genes is None:
            return self.sparse_genes is other.sparse_genes
        return self.sparse_genes.equals(other.sparse_genes)


class GeneColumns:
    """Accumulates a fetch's gene columns, each dense or sparse, in request order."""

    def __init__(self, n_obs: int):
        self.n_obs = n_obs
        self.dense: dict[str, pa.Array] = {}
        self._sparse_genes: list[str] = []
        self._indices: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self.all_nan: list[str] = []

    def add_block(self, genes: Sequence[str], block: Any) -> None:
        """Add ``block``'s columns (cells × ``genes``: a numpy array or a scipy sparse
        matrix) under the names ``genes``. A gene whose cells are all NaN gets no column and
        is listed in ``all_nan`` (how a layer marks genes it does not hold)."""
        if sparse.issparse(block):
            block = sparse.csc_matrix(block)  # no copy when already CSC
            if not block.has_canonical_format:
                block = block.copy()
                block.sum_duplicates()  # sorted indices, one entry per cell
            for i, gene in enumerate(genes):
                start, stop = block.indptr[i], block.indptr[i + 1]
                self.add_sparse(gene, block.indices[start:stop], block.data[start:stop])
        else:
            block = np.asarray(block)
            for i, gene in enumerate(genes):
                self.add_dense(gene, block[:, i])

    def add_dense(self, gene: str, values: np.ndarray) -> None:
        column = np.ascontiguousarray(values, dtype=np.float32)
        if self._all_nan(gene, column):
            return
        nonzero = np.flatnonzero(column.view(np.uint32))
        if sends_sparse(nonzero.size, self.n_obs):
            self._add_sparse_run(gene, nonzero, column[nonzero])
        else:
            self.dense[gene_column(gene)] = pa.array(column)

    def add_sparse(self, gene: str, indices: np.ndarray, values: np.ndarray) -> None:
        """A gene given as its stored entries: ``indices`` (ascending, distinct cells) and
        their ``values``; stored +0.0 entries are dropped."""
        values = np.asarray(values, dtype=np.float32)
        if len(values) == self.n_obs and self._all_nan(gene, values):
            return
        kept = values.view(np.uint32) != 0
        if not kept.all():
            indices, values = indices[kept], values[kept]
        if sends_sparse(values.size, self.n_obs):
            self._add_sparse_run(gene, indices, values)
        else:
            column = np.zeros(self.n_obs, dtype=np.float32)
            column[indices] = values
            self.dense[gene_column(gene)] = pa.array(column)

    def _all_nan(self, gene: str, column: np.ndarray) -> bool:
        if self.n_obs and np.isnan(column).all():
            self.all_nan.append(gene)
            return True
        return False

    def _add_sparse_run(self, gene: str, indices: np.ndarray, values: np.ndarray) -> None:
        self._sparse_genes.append(gene)
        self._indices.append(np.asarray(indices, dtype=np.int32))
        self._values.append(np.asarray(values, dtype=np.float32))

    def tables(self, other_columns: Mapping[str, pa.Array]) -> FetchTables:
        """The reply's tables: the dense genes then ``other_columns`` (obs, embedding, cell
        ids) in the cells table, the sparse genes in theirs."""
        metadata = {N_OBS_KEY: str(self.n_obs).encode()}
        cells = pa.table({**self.dense, **other_columns})
        if cells.num_columns and cells.num_rows != self.n_obs:
            raise ValueError(f"cells table has {cells.num_rows} rows, not {self.n_obs}")
        cells = cells.replace_schema_metadata({**metadata, TABLE_KEY: CELLS_TABLE})
        sparse_genes = None
        if self._sparse_genes:
            sparse_genes = _sparse_genes_table(
                self._sparse_genes, self._indices, self._values
            ).replace_schema_metadata({**metadata, TABLE_KEY: SPARSE_GENES_TABLE})
        return FetchTables(cells, sparse_genes, self.n_obs)


def _sparse_genes_table(
    genes: list[str], indices: list[np.ndarray], values: list[np.ndarray]
) -> pa.Table:
    offsets = np.zeros(len(genes) + 1, dtype=np.int64)
    np.cumsum([part.size for part in indices], out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        # list<int32> offsets; MAX_REPLY_BYTES keeps a fetch far below this
        raise ValueError(f"{offsets[-1]:,} non-zeros do not fit one Arrow list array")
    offsets = pa.array(offsets.astype(np.int32))
    return pa.Table.from_arrays(
        [
            pa.array(genes, type=pa.utf8()),
            pa.ListArray.from_arrays(offsets, pa.array(np.concatenate(indices))),
            pa.ListArray.from_arrays(offsets, pa.array(np.concatenate(values))),
        ],
        schema=SPARSE_GENES_SCHEMA,
    )


def _write_stream(sink: pa.BufferOutputStream, table: pa.Table, rows_per_batch: int) -> None:
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=rows_per_batch)


def _cells_per_batch(table: pa.Table) -> int:
    """Cells per record batch so that a batch is about one chunk (the frontend could decode
    batches while later parts are still arriving)."""
    bytes_per_cell = max(1, table.nbytes // max(1, table.num_rows))
    return max(1, min(MAX_CELLS_PER_BATCH, MAX_CHUNK_BYTES // bytes_per_cell))


def _genes_per_batch(table: pa.Table) -> int:
    bytes_per_gene = max(1, table.nbytes // max(1, table.num_rows))
    return max(1, MAX_CHUNK_BYTES // bytes_per_gene)


# -- reading (tests, reference comparisons) ------------------------------------------------------


def read_fetch_payload(payload: bytes | pa.Buffer) -> FetchTables:
    """The tables of a ``fetch`` payload (one or two IPC streams, see the module doc)."""
    reader = pa.BufferReader(payload)
    tables: list[pa.Table] = []
    while reader.tell() < reader.size():
        tables.append(pa.ipc.open_stream(reader).read_all())
    if not tables or len(tables) > 2:
        raise ValueError(f"a fetch payload holds 1 or 2 Arrow streams, not {len(tables)}")
    cells = tables[0]
    metadata = cells.schema.metadata or {}
    n_obs = int(metadata.get(N_OBS_KEY, cells.num_rows))
    sparse_genes = tables[1] if len(tables) == 2 else None
    if sparse_genes is not None:
        if (sparse_genes.schema.metadata or {}).get(TABLE_KEY) != SPARSE_GENES_TABLE:
            raise ValueError("the second stream of a fetch payload is not the sparse genes")
        sparse_genes = sparse_genes.combine_chunks()
    return FetchTables(cells, sparse_genes, n_obs)


def decode_fetch_payload(
    payload: bytes | pa.Buffer, genes: Sequence[str] | None = None
) -> pa.Table:
    """A ``fetch`` payload as one table with every gene a dense float32 column: the gene
    columns first, in the order of ``genes`` (the result's) when given, then the others."""
    return read_fetch_payload(payload).dense_table(genes)


def dense_table(
    cells: pa.Table,
    sparse_genes: pa.Table | None,
    n_obs: int,
    genes: Sequence[str] | None = None,
) -> pa.Table:
    gene_columns = {
        name: cells.column(name) for name in cells.column_names if name.startswith("gene:")
    }
    for gene, column in _densified(sparse_genes, n_obs):
        gene_columns[gene_column(gene)] = pa.array(column)
    if genes is not None:
        order = [gene_column(gene) for gene in genes if gene_column(gene) in gene_columns]
        gene_columns = {name: gene_columns[name] for name in order + list(gene_columns)}
    others = {name: cells.column(name) for name in cells.column_names if name not in gene_columns}
    return pa.table({**gene_columns, **others})


def _densified(sparse_genes: pa.Table | None, n_obs: int) -> Iterable[tuple[str, np.ndarray]]:
    if sparse_genes is None:
        return
    table = sparse_genes.combine_chunks()
    indices, values = table.column("indices").chunk(0), table.column("values").chunk(0)
    for row, gene in enumerate(table.column("gene").to_pylist()):
        column = np.zeros(n_obs, dtype=np.float32)
        column[indices[row].values.to_numpy()] = values[row].values.to_numpy()
        yield gene, column
