"""Write the ``fetch`` payload fixtures that jest decodes (src/data/__tests__/fixtures/).

Each fixture is a pair: ``<name>.arrow``, the payload the Python kernel sends for a fetch
(dense and sparse genes, docs/protocol.md "fetch payload"), produced by the real adapter,
and ``<name>.expected.arrow``, the same columns written densely by pyarrow straight from the
matrix (no exprscope encoding involved), which the decoded payload must equal bit for bit.

    .venv/bin/python scripts/write_fetch_fixtures.py

``exprscope/tests/test_sparse_fetch.py`` checks that the files are up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from exprscope.adapters import adapter_for

FIXTURES = Path(__file__).resolve().parent.parent / "src" / "data" / "__tests__" / "fixtures"

N_CELLS = 1000


def _matrix() -> np.ndarray:
    """Cells × 8 genes: 92%-zero genes, a dense one, the boundary cases of the encoding
    choice, and values that only a bitwise round trip keeps (NaN, −0.0, tiny and huge)."""
    rng = np.random.default_rng(16)
    x = np.zeros((N_CELLS, 8), dtype=np.float32)
    for gene in range(4):
        hit = rng.random(N_CELLS) < 0.08
        x[hit, gene] = np.log1p(rng.poisson(3.0, hit.sum()) + 1).astype(np.float32)
    x[:, 4] = rng.random(N_CELLS).astype(np.float32) + 0.5  # dense: no zero
    x[rng.choice(N_CELLS, N_CELLS // 2, replace=False), 5] = 1.0  # exactly half: sparse
    x[rng.choice(N_CELLS, N_CELLS // 2 + 1, replace=False), 6] = 2.0  # one more: dense
    special = [np.nan, -0.0, np.float32(1e-45), np.float32(3e38), -1.5]
    x[[3, 17, 500, 998, 999], 7] = np.array(special, dtype=np.float32)
    return x


def _adata() -> ad.AnnData:
    x = _matrix()
    rng = np.random.default_rng(17)
    obs = pd.DataFrame(
        {
            "cluster": pd.Categorical(rng.choice(["a", "b", "c"], N_CELLS)),
            "score": rng.normal(size=N_CELLS),
        },
        index=[f"cell{i}" for i in range(N_CELLS)],
    )
    # Stored entries: every value whose bits are not +0.0 (csr_matrix(x) would drop −0.0)
    rows, columns = np.nonzero(x.view(np.uint32))
    stored = sparse.csr_matrix((x[rows, columns], (rows, columns)), shape=x.shape)
    adata = ad.AnnData(
        stored,
        obs=obs,
        var=pd.DataFrame(index=[f"G{i}" for i in range(x.shape[1])]),
        obsm={"X_umap": rng.normal(size=(N_CELLS, 2)).astype(np.float32)},
    )
    return adata


def _stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def fixtures() -> dict[str, bytes]:
    """File name → bytes of every fixture."""
    adata = _adata()
    x = _matrix()
    genes = list(adata.var_names)
    files = {}
    cases = {
        "fetch-mixed": dict(obs=["cluster", "score"], embedding="X_umap", cell_ids=True),
        "fetch-genes-only": {},
    }
    for name, extra in cases.items():
        tables, result = adapter_for(adata).fetch(
            "X",
            genes,
            extra.get("obs", ()),
            **{key: value for key, value in extra.items() if key != "obs"},
        )
        assert result["genes"] == genes, result
        files[f"{name}.arrow"] = tables.ipc_stream().to_pybytes()
        expected = {f"gene:{gene}": pa.array(x[:, i]) for i, gene in enumerate(genes)}
        if "obs" in extra:
            expected["obs:cluster"] = pa.DictionaryArray.from_arrays(
                pa.array(adata.obs["cluster"].cat.codes.to_numpy(), type=pa.int8()),
                pa.array(list(adata.obs["cluster"].cat.categories)),
            )
            expected["obs:score"] = pa.array(adata.obs["score"].to_numpy())
            umap = adata.obsm["X_umap"]
            expected["obsm:X_umap:0"] = pa.array(umap[:, 0])
            expected["obsm:X_umap:1"] = pa.array(umap[:, 1])
            expected["cell_id"] = pa.array(list(adata.obs_names))
        files[f"{name}.expected.arrow"] = _stream(pa.table(expected))
    return files


def main() -> int:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, data in fixtures().items():
        (FIXTURES / name).write_bytes(data)
        print(f"wrote {FIXTURES / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
