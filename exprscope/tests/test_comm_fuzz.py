"""A fuzz of the comm protocol (docs/protocol.md), against the session's real ipykernel.

What the frontend, a stale cell or a hostile page could send: every argument of every op with
wrong types, huge values and adversarial strings. Each request must get exactly one reply that
is a result or a structured error other than ``internal`` (``internal`` means a bug), the
kernel must still answer a normal request afterwards, and the data must be unchanged. The
values are deterministic (no random generator), so a failure names the case that caused it.
"""

from __future__ import annotations

from typing import Any

import pytest

from exprscope.kernel.protocol import INTERNAL, MAX_MESSAGE_CHARS

# A valid request per op (on the synthetic data); each case replaces one argument.
VALID: dict[str, dict[str, Any]] = {
    "hello": {},
    "list": {},
    "cancel": {"id": "r0"},
    "describe": {"object": "es_csr"},
    "fetch": {"object": "es_csr", "matrix": "X", "genes": ["G1"], "obs": ["cluster"]},
    "group_stats": {"object": "es_csr", "matrix": "X", "groupby": ["cluster"], "genes": ["G1"]},
    "pair_stats": {
        "object": "es_csr",
        "matrix": "X",
        "gene_x": "G1",
        "gene_y": "G2",
        "groupby": ["cluster"],
    },
    "stored_markers": {"object": "es_csr", "groupby": "cluster"},
}

# Every argument of docs/protocol.md, optional ones included.
FIELDS: dict[str, list[str]] = {
    "hello": [],
    "list": [],
    "cancel": ["id"],
    "describe": ["object"],
    "fetch": ["object", "matrix", "genes", "obs", "embedding", "cell_ids"],
    "group_stats": ["object", "matrix", "groupby", "genes", "expm1"],
    "pair_stats": [
        "object",
        "matrix",
        "gene_x",
        "gene_y",
        "groupby",
        "detected_only",
        "spearman",
        "max_sample",
    ],
    "stored_markers": ["object", "groupby", "n", "key"],
}

ADVERSARIAL_STRINGS = [
    "",
    "__import__('os').system('x')",
    "__import__('pathlib').Path('es_fuzz_ran').touch()",
    "\"); file.create('es_fuzz_ran'); (\"",
    '"); quit(); ("',
    "'); stop('x'); ('",
    "es_csr; import os",
    "_es_hidden",
    "__builtins__",
    "layers/../X",
    "obsm:X_umap:0",
    "gène ✓ 基因 \U0001f9ec",
    "\x00\n\t",
    "x" * 100_000,
]

JUNK: list[Any] = [
    None,
    0,
    -1,
    1.5,
    10**9,
    -(10**9),
    2**63,
    True,
    {},
    {"a": [1, {"b": None}]},
    [],
    [None],
    [1, 2],
    [["G1"]],
    [{"G1": 1}],
    [True],
    ["G1", None],
    {"__class__": "str"},
    *ADVERSARIAL_STRINGS,
    [*ADVERSARIAL_STRINGS],
    [f"G{i}" for i in range(50_000)],
    ["G1"] * 50_000,
]

# The objects whose data is compared before and after, and how they are read in the kernel.
DATA_DIGEST_CODE = """
import hashlib as _es_hashlib, json as _es_json
import numpy as _es_np, pandas as _es_pd
from scipy import sparse as _es_sparse

def _es_digest(adata):
    x = adata.X.toarray() if _es_sparse.issparse(adata.X) else _es_np.asarray(adata.X)
    obs = _es_pd.util.hash_pandas_object(adata.obs, index=True).to_numpy()
    return {
        "X": _es_hashlib.sha256(_es_np.ascontiguousarray(x).tobytes()).hexdigest(),
        "obs": _es_hashlib.sha256(obs.tobytes()).hexdigest(),
        "obs_columns": [str(c) for c in adata.obs.columns],
        "obs_dtypes": [str(d) for d in adata.obs.dtypes],
        "layers": sorted(adata.layers.keys()),
        "uns": sorted(adata.uns.keys()),
    }

print(_es_json.dumps({n: _es_digest(globals()[n]) for n in
    ["es_dense", "es_csr", "es_csc", "es_view", "es_dense_view", "es_duplicated"]}))
del _es_hashlib, _es_json, _es_np, _es_pd, _es_sparse, _es_digest
"""

RAN_CODE = "import os as _es_os; print(str(_es_os.path.exists('es_fuzz_ran')).lower()); del _es_os"


def cases(valid: dict[str, dict[str, Any]] = VALID) -> list[tuple[str, dict[str, Any], str]]:
    out = []
    for op, fields in FIELDS.items():
        for field in fields:
            for index, value in enumerate(JUNK):
                out.append((op, {**valid[op], field: value}, f"{op}.{field}[{index}]"))
        # Unknown and junk extra arguments are ignored, not an error.
        out.append((op, {**valid[op], "junk": [{"nested": [None, 1e308]}]}, f"{op}.junk"))
    return out


def problem(reply) -> str | None:
    """What is wrong with a reply that should be a result or a structured error, if anything."""
    first = reply.messages[0]
    if first["ok"]:
        return None
    error = first["error"]
    if not isinstance(error.get("code"), str) or not error["code"]:
        return f"no error code: {error}"
    if error["code"] == INTERNAL:
        return f"internal: {error['message'][:300]}"
    if not isinstance(error.get("message"), str) or not error["message"]:
        return f"no message: {error}"
    # The message is for people: bounded, even when the request held a 100k-character name.
    if len(error["message"]) > MAX_MESSAGE_CHARS:
        return f"a {len(error['message']):,}-character message"
    return None


def assert_alive(comm_kernel) -> None:
    reply = comm_kernel.call("fetch", object="es_dense", matrix="X", genes=["G3"])
    assert reply.result["genes"] == ["G3"] and reply.table().num_rows == 300


@pytest.fixture(scope="module")
def digest_before(comm_kernel):
    return comm_kernel.evaluate_json(DATA_DIGEST_CODE)


def test_every_field_of_every_op(comm_kernel, digest_before):
    problems = {}
    for op, args, label in cases():
        reply = comm_kernel.call(op, **args)  # exactly one well-formed reply
        if (found := problem(reply)) is not None:
            problems[label] = found
    assert problems == {}
    assert_alive(comm_kernel)
    assert comm_kernel.evaluate_json(DATA_DIGEST_CODE) == digest_before
    # The adversarial strings are data, never code: the file they would have created in the
    # kernel's working folder does not exist.
    assert comm_kernel.evaluate_json(RAN_CODE) is False


def test_malformed_envelopes(comm_kernel, digest_before):
    envelopes: list[Any] = [
        None,
        [],
        "hello",
        10**9,
        {},
        {"id": "e1"},
        {"op": "hello"},
        {"id": None, "op": "hello"},
        {"id": True, "op": "hello"},
        {"id": ["e1"], "op": "hello"},
        {"id": {"x": 1}, "op": "hello"},
        {"id": "e2", "op": None},
        {"id": "e3", "op": 1},
        {"id": "e4", "op": ["hello"]},
        {"id": "e5", "op": "__init__"},
        {"id": "e6", "op": "_lookup"},
        {"id": "e7", "op": "x" * 100_000},
        {"id": "e8", "op": "fetch", "args": []},
        {"id": "e9", "op": "fetch", "args": "object=es_csr"},
        {"id": "e10", "op": "fetch", "args": 1},
        {"id": "x" * 100_000, "op": "hello"},
        {"id": 10**9, "op": "hello"},
    ]
    problems = {}
    for index, envelope in enumerate(envelopes):
        reply = comm_kernel.send_raw(envelope)
        label = f"envelope[{index}]"
        assert len(reply.messages) == 1, label
        usable = isinstance(envelope, dict) and (
            isinstance(envelope.get("id"), str)
            or (isinstance(envelope.get("id"), int) and not isinstance(envelope["id"], bool))
        )
        assert reply.messages[0]["id"] == (envelope["id"] if usable else None), label
        assert not reply.messages[0]["ok"] or envelope.get("op") == "hello", label
        if (found := problem(reply)) is not None:
            problems[label] = found
    assert problems == {}
    assert_alive(comm_kernel)
    assert comm_kernel.evaluate_json(DATA_DIGEST_CODE) == digest_before


@pytest.mark.parametrize("name", ["es_dense", "es_csr", "es_csc", "es_view"])
def test_group_stats_of_no_genes(comm_kernel, name):
    # As fetch: an empty gene list is a valid request (an empty table), not an error. The CSR
    # path once replied internal (OverflowError: -1 out of bounds for uint8).
    args = {"object": name, "matrix": "X", "groupby": ["cluster"]}
    reply = comm_kernel.call("group_stats", **args, genes=[], expm1=True)
    whole = comm_kernel.call("group_stats", **args, expm1=True)
    assert reply.result["n_genes"] == reply.table().num_rows == 0
    assert reply.result["missing"] == []
    assert reply.table().column_names == whole.table().column_names
    for key in ("groups", "n_cells_total"):
        assert reply.result[key] == whole.result[key]
