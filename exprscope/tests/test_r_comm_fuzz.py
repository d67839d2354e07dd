"""The protocol fuzz of ``test_comm_fuzz.py``, against the R helper in a real IRkernel."""

from __future__ import annotations

from typing import Any

import pytest
from kernel_harness import r_kernel_session
from test_comm_fuzz import JUNK, VALID, cases, problem
from test_r_kernel import _irkernel_installed

pytestmark = pytest.mark.skipif(not _irkernel_installed(), reason="R with IRkernel not installed")

R_DATA_CODE = """
suppressPackageStartupMessages(library(SeuratObject))
data("pbmc_small", package = "SeuratObject", envir = environment())
es_pbmc <- pbmc_small
rm(pbmc_small)
"""

# The object's data and metadata, hashed through a file (R's own serialisation).
R_DIGEST_CODE = """
local({
  path <- tempfile()
  saveRDS(list(
    GetAssayData(es_pbmc, slot = "data"), GetAssayData(es_pbmc, slot = "counts"),
    es_pbmc@meta.data, Idents(es_pbmc)
  ), path, compress = FALSE)
  cat(jsonlite::toJSON(unname(tools::md5sum(path))))
  unlink(path)
})
"""

R_VALID: dict[str, dict[str, Any]] = {
    op: {
        **args,
        **{
            key: value
            for key, value in {
                "object": "es_pbmc",
                "matrix": "RNA/data",
                "genes": ["MS4A1"],
                "obs": ["groups"],
                "groupby": ["groups"] if isinstance(args.get("groupby"), list) else "groups",
                "gene_x": "MS4A1",
                "gene_y": "CD79B",
            }.items()
            if key in args
        },
    }
    for op, args in VALID.items()
}

# compare (R's; the Python fuzz table has no entry for it): pbmc_small's groups as the two
# datasets, Wilcoxon on two genes so that each case is quick.
R_COMPARE = {
    "object": "es_pbmc",
    "matrix": "RNA/data",
    "reference": "g1",
    "dataset_key": "groups",
    "cluster_key": "RNA_snn_res.1",
    "method": "wilcoxon",
    "genes": ["MS4A1", "HLA-DRA"],
}
COMPARE_FIELDS = [
    *R_COMPARE,
    "target",
    "sample_key",
    "clusters",
    "min_cells",
    "counts",
]


# markers (neither in the Python fuzz table: its op answers from a worker thread there, and
# test_markers_op.py fuzzes it): pbmc_small's clusters, every gene.
R_MARKERS = {"object": "es_pbmc", "matrix": "RNA/data", "groupby": "RNA_snn_res.1", "n": 3}
MARKERS_FIELDS = [*R_MARKERS, "method", "tie_correct"]


def op_cases(op: str, valid: dict[str, Any], fields: list[str]) -> list[tuple[str, dict, str]]:
    out = [
        (op, {**valid, field: value}, f"{op}.{field}[{index}]")
        for field in fields
        for index, value in enumerate(JUNK)
    ]
    out.append((op, {**valid, "junk": [{"nested": [None, 1e308]}]}, f"{op}.junk"))
    return out


def r_only_cases() -> list[tuple[str, dict[str, Any], str]]:
    return [
        *op_cases("compare", R_COMPARE, COMPARE_FIELDS),
        *op_cases("markers", R_MARKERS, MARKERS_FIELDS),
    ]


@pytest.fixture(scope="module")
def r_fuzz_kernel():
    with r_kernel_session(R_DATA_CODE) as session:
        yield session


def test_every_field_of_every_op_in_r(r_fuzz_kernel):
    before = r_fuzz_kernel.evaluate_json(R_DIGEST_CODE)
    problems = {}
    for op, args, label in [*cases(R_VALID), *r_only_cases()]:
        reply = r_fuzz_kernel.call(op, **args)  # exactly one well-formed reply
        if (found := problem(reply)) is not None:
            problems[label] = found
    assert problems == {}
    reply = r_fuzz_kernel.call("fetch", object="es_pbmc", matrix="RNA/data", genes=["MS4A1"])
    assert reply.result["genes"] == ["MS4A1"] and reply.table().num_rows == 80
    reply = r_fuzz_kernel.call("compare", **R_COMPARE)  # the valid request works
    clusters = reply.result["clusters"]  # cluster 2 has 9 cells in g2, under min_cells
    assert [c["tested"] for c in clusters] == [True, True, False]
    assert clusters[2]["note"] == "fewer than 10 cells in 'g1' or 'g2'"
    reply = r_fuzz_kernel.call("markers", **R_MARKERS)
    assert reply.result["groups"] == ["0", "1", "2"] and reply.table().num_rows == 9
    assert r_fuzz_kernel.evaluate_json(R_DIGEST_CODE) == before
    assert r_fuzz_kernel.evaluate_json("cat(tolower(file.exists('es_fuzz_ran')))") is False
