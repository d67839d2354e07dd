"""A real ipykernel driven like the frontend drives it, for the comm tests.

``conftest.py`` starts one kernel per test session (fixture ``comm_kernel``) and builds the
same data in the test process (``local_data``); the test modules talk to the kernel through
:class:`KernelSession`. Not a test module itself (pytest collects ``test_*.py`` only).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager, start_new_kernel
from scipy import sparse

from exprscope.adapters.fetch_payload import decode_fetch_payload
from exprscope.kernel import PYTHON_SETUP_SNIPPET, R_SETUP_SNIPPET
from exprscope.kernel.protocol import MAX_CHUNK_BYTES

REPO_ROOT = Path(__file__).resolve().parents[2]
KANG_PBMC_H5AD = REPO_ROOT / "exprscope" / "data" / "kang_pbmc.h5ad"
TIMEOUT = 60

# Test data, built identically in the kernel and in the test process (fixed seeds). Object
# names start with ``es_`` so they cannot collide with anything else in the kernel.
SYNTHETIC_DATA_CODE = """
import warnings

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

def _es_build(x_kind):
    rng = np.random.default_rng(0)
    n_obs, n_vars = 300, 30
    counts = rng.poisson(0.8, size=(n_obs, n_vars)).astype(np.float32)
    lognorm = np.log1p(counts).astype(np.float64)
    cluster = pd.Categorical(
        rng.choice(["a", "b", "c"], n_obs), categories=["c", "a", "b", "unused"]
    )
    cluster[:5] = np.nan
    obs = pd.DataFrame(
        {
            "cluster": cluster,
            "sample": rng.choice(["s1", "s2"], n_obs).astype(object),
            "batch": rng.integers(0, 3, n_obs),
            "is_doublet": rng.random(n_obs) < 0.1,
            "score": rng.normal(size=n_obs),
            "n_counts": counts.sum(axis=1),
            "note": [f"cell note {i}" for i in range(n_obs)],
        },
        index=[f"cell{i}" for i in range(n_obs)],
    )
    x = {"dense": lognorm, "csr": sparse.csr_matrix(lognorm), "csc": sparse.csc_array(lognorm)}
    integrated = rng.normal(size=(n_obs, n_vars)).astype(np.float32)
    integrated[:, 20:] = np.nan
    adata = ad.AnnData(
        X=x[x_kind],
        obs=obs,
        var=pd.DataFrame(index=[f"G{i}" for i in range(n_vars)]),
        layers={"counts": sparse.csr_matrix(counts), "integrated": integrated},
        obsm={
            "X_umap": rng.normal(size=(n_obs, 2)).astype(np.float32),
            "X_pca": rng.normal(size=(n_obs, 5)),
            "X_line": rng.normal(size=(n_obs, 1)),
        },
        uns={"rank_genes_groups": {"names": [], "params": {"groupby": "cluster"}}},
    )
    if x_kind != "csc":
        raw_genes = [f"G{i}" for i in range(n_vars)] + [f"RAW{i}" for i in range(5)]
        raw_values = sparse.csr_matrix(rng.poisson(2.0, size=(n_obs, n_vars + 5)).astype(float))
        adata.raw = ad.AnnData(raw_values, obs=obs, var=pd.DataFrame(index=raw_genes))
    return adata

es_dense = _es_build("dense")
es_csr = _es_build("csr")
es_csc = _es_build("csc")
es_view = es_csr[es_csr.obs["sample"] == "s1"][::-1, [5, 2, 20, 7, 0]]
es_dense_view = es_dense[np.arange(0, 300, 3)]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    es_duplicated = es_dense.copy()
    es_duplicated.var_names = [f"G{i % 10}" for i in range(30)]
es_large = ad.AnnData(
    X=np.random.default_rng(1).standard_normal((300_000, 20), dtype=np.float32),
    obs=pd.DataFrame(
        {"group": pd.Categorical(np.arange(300_000) % 7)},
        index=[f"c{i}" for i in range(300_000)],
    ),
)
es_frame = pd.DataFrame({"a": [1, 2, 3]})
_es_hidden = es_dense
"""
SYNTHETIC_OBJECTS = ["es_dense", "es_csr", "es_csc", "es_view", "es_dense_view", "es_duplicated"]

PBMC68K_CODE = """
import scanpy as sc
es_pbmc68k = sc.datasets.pbmc68k_reduced()
"""

KANG_CODE = """
import exprscope.datasets
es_kang = exprscope.datasets.kang_pbmc()
"""

# The kernel's own view of things, printed as JSON by test-only code.
KERNEL_STATE_CODE = """
import json as _es_json
print(_es_json.dumps({
    "names": sorted(get_ipython().user_ns),
    "targets": sorted(get_ipython().kernel.comm_manager.targets),
    "comms": len(get_ipython().kernel.comm_manager.comms),
}))
del _es_json
"""


# -- talking to the kernel ----------------------------------------------------------------------


@dataclass
class Reply:
    """All comm messages the kernel sent while handling one request."""

    messages: list[dict[str, Any]]
    buffers: list[list[bytes]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.messages[0]["ok"]

    @property
    def result(self) -> dict[str, Any]:
        assert self.ok, self.messages[0]
        return self.messages[0]["result"]

    @property
    def error(self) -> dict[str, Any]:
        assert not self.ok, self.messages[0]
        return self.messages[0]["error"]

    def slices(self) -> list[bytes]:
        """The payload slice of each part: its buffer, or its base64 text (R kernels)."""
        return [
            part[0] if part else base64.b64decode(message.get("b64", ""), validate=True)
            for part, message in zip(self.buffers, self.messages, strict=True)
        ]

    def payload(self) -> bytes:
        return b"".join(self.slices())

    def batches(self) -> list[pa.RecordBatch]:
        return list(pa.ipc.open_stream(pa.py_buffer(self.payload())))

    def table(self) -> pa.Table:
        if self.result.get("payload") == "columns":
            return decode_columns(self.result["columns"], self.payload())
        # A fetch payload may hold a second stream (sparse genes): decoded back to dense
        # columns, in the result's gene order, as protocol 1 sent them
        return decode_fetch_payload(self.payload(), self.result.get("genes"))

    def assert_single_reply(self, request_id: Any) -> None:
        """Exactly one reply, well formed per docs/protocol.md."""
        assert self.messages, "no reply"
        assert all(message["id"] == request_id for message in self.messages)
        first = self.messages[0]
        if not first["ok"]:
            assert len(self.messages) == 1 and self.buffers == [[]]
            assert set(first) == {"id", "ok", "error"}
            assert isinstance(first["error"]["message"], str) and first["error"]["message"]
            return
        parts = first["parts"]
        assert [message["part"] for message in self.messages] == list(range(parts))
        assert all(message["parts"] == parts and message["ok"] for message in self.messages)
        assert "result" in first
        assert not any("result" in message for message in self.messages[1:])
        if "b64" in first:
            # R kernels: base64 text in every part instead of buffers.
            assert self.buffers == [[]] * parts
            assert all(isinstance(message.get("b64"), str) for message in self.messages)
            slices = self.slices()
            assert all(len(piece) <= MAX_CHUNK_BYTES for piece in slices)
            assert parts == 1 or all(len(piece) > 0 for piece in slices)
        elif parts > 1 or self.buffers[0]:
            assert all(len(part) == 1 for part in self.buffers)
            assert all(0 < len(part[0]) <= MAX_CHUNK_BYTES for part in self.buffers)


class KernelSession:
    """A kernel plus a client that speaks the comm protocol like the frontend does."""

    def __init__(self, manager, client):
        self.manager = manager
        self.client = client
        self.comm_id: str | None = None  # the comm requests go to unless told otherwise
        self.setup_outputs: list[dict[str, Any]] = []  # of the first setup run, in a new kernel
        self._request_count = 0

    def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        message = self.client.session.msg(msg_type, content)
        self.client.shell_channel.send(message)
        return message["header"]["msg_id"]

    def _iopub_until_idle(self, msg_id: str) -> list[dict[str, Any]]:
        """The iopub messages caused by shell message ``msg_id``, up to its ``idle`` status."""
        caused = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "status":
                if message["content"]["execution_state"] == "idle":
                    return caused
                continue
            caused.append(message)

    def execute(self, code: str, *, silent: bool = False) -> list[dict[str, Any]]:
        """Run code; return its iopub output messages. Fails on an exception in the kernel."""
        msg_id = self.client.execute(code, silent=silent, store_history=False)
        outputs = self._iopub_until_idle(msg_id)
        reply = self.client.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=TIMEOUT)
        errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", errors or reply["content"]
        return outputs

    def evaluate_json(self, code: str) -> Any:
        """Run code that prints one JSON document; return it."""
        outputs = self.execute(code)
        text = "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")
        return json.loads(text)

    def state(self) -> dict[str, Any]:
        return self.evaluate_json(KERNEL_STATE_CODE)

    def open_comm(self) -> str:
        comm_id = uuid.uuid4().hex
        msg_id = self._send(
            "comm_open", {"comm_id": comm_id, "target_name": "exprscope", "data": {}}
        )
        caused = self._iopub_until_idle(msg_id)
        assert not any(m["msg_type"] == "comm_close" for m in caused), "target not registered"
        return comm_id

    def close_comm(self, comm_id: str) -> None:
        self._iopub_until_idle(self._send("comm_close", {"comm_id": comm_id, "data": {}}))

    def send_raw(self, data: Any, comm_id: str | None = None) -> Reply:
        """Send ``data`` as a comm message; collect every comm message sent in reply."""
        comm_id = comm_id or self.comm_id
        msg_id = self._send("comm_msg", {"comm_id": comm_id, "data": data})
        reply = Reply(messages=[])
        for message in self._iopub_until_idle(msg_id):
            assert message["msg_type"] == "comm_msg", message
            assert message["content"]["comm_id"] == comm_id
            reply.messages.append(message["content"]["data"])
            reply.buffers.append([bytes(buffer) for buffer in message.get("buffers", [])])
        return reply

    def call_with_progress(
        self, op: str, *, on_sent: Any = None, **args: Any
    ) -> tuple[Reply, list[dict[str, Any]]]:
        """One request whose reply may come after the kernel went idle (work on a worker
        thread): every message with its id, progress messages apart, until the reply is
        complete. ``on_sent(request_id)`` runs once the kernel has read the request."""
        self._request_count += 1
        request_id = f"r{self._request_count}"
        msg_id = self._send(
            "comm_msg",
            {"comm_id": self.comm_id, "data": {"id": request_id, "op": op, "args": args}},
        )
        reply, progress, idle = Reply(messages=[]), [], False
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] == "status":
                if message["content"]["execution_state"] == "idle" and not idle:
                    idle = True
                    if on_sent is not None:
                        on_sent(request_id)
                continue
            if message["msg_type"] != "comm_msg":
                continue
            data = message["content"]["data"]
            if not isinstance(data, dict) or data.get("id") != request_id:
                continue
            if "progress" in data:
                assert reply.messages == [], "progress after the reply began"
                progress.append(data)
                continue
            reply.messages.append(data)
            reply.buffers.append([bytes(buffer) for buffer in message.get("buffers", [])])
            first = reply.messages[0]
            if not first["ok"] or len(reply.messages) == first["parts"]:
                reply.assert_single_reply(request_id)
                return reply, progress

    def call(self, op: str, comm_id: str | None = None, **args: Any) -> Reply:
        """One request; checks that it got exactly one well-formed reply."""
        self._request_count += 1
        request_id = f"r{self._request_count}"
        reply = self.send_raw({"id": request_id, "op": op, "args": args}, comm_id)
        reply.assert_single_reply(request_id)
        return reply


def stored_matrix(adata, matrix: str) -> tuple[np.ndarray, list[str]]:
    """A matrix (``X``, ``raw``, ``layers/<name>``) as a dense array in its stored dtype, and
    its gene names, read through AnnData's public API: the tests' plain reference."""
    if matrix == "X":
        values, genes = adata.X, adata.var_names
    elif matrix == "raw":
        values, genes = adata.raw.X, adata.raw.var_names
    else:
        values, genes = adata.layers[matrix.removeprefix("layers/")], adata.var_names
    values = values.toarray() if sparse.issparse(values) else np.asarray(values)
    return values, [str(gene) for gene in genes]


# -- "columns" payloads (R kernels; docs/protocol.md, "Payloads from R") ----------------------

_COLUMN_TYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8"), "int32": np.dtype("<i4")}


def decode_columns(columns: list[dict[str, Any]], payload: bytes) -> pa.Table:
    """The Arrow table a "columns" payload describes, with the Python kernel's schema."""
    arrays = {}
    for column in columns:
        kind, length = column["type"], column["length"]
        if kind == "utf8":
            assert "offset" not in column and len(column["values"]) == length
            arrays[column["name"]] = pa.array(column["values"], type=pa.utf8())
            continue
        offset = column["offset"]
        assert offset % 8 == 0, column
        if kind == "sparse_float32":
            # A gene sent as its non-zeros: nnz int32 cells, then nnz float32 values at the
            # next multiple of 8; back to the dense column Python's schema has
            nnz = column["nnz"]
            assert column["name"].startswith("gene:") and nnz * 8 <= length * 4, column
            values_at = offset + -(-nnz * 4 // 8) * 8
            assert values_at + nnz * 4 <= len(payload), column
            cells = np.frombuffer(payload, dtype="<i4", count=nnz, offset=offset)
            assert (np.diff(cells) > 0).all() and (cells >= 0).all() and (cells < length).all()
            dense = np.zeros(length, dtype=np.float32)
            dense[cells] = np.frombuffer(payload, dtype="<f4", count=nnz, offset=values_at)
            arrays[column["name"]] = pa.array(dense)
            continue
        dtype = _COLUMN_TYPES["int32" if kind == "dictionary" else kind]
        assert offset + length * dtype.itemsize <= len(payload), column
        values = np.frombuffer(payload, dtype=dtype, count=length, offset=offset)
        if kind == "dictionary":
            codes = values.astype(np.int32)
            assert codes.max(initial=-1) < len(column["categories"])
            arrays[column["name"]] = pa.DictionaryArray.from_arrays(
                pa.array(codes, mask=codes < 0), pa.array(column["categories"], type=pa.utf8())
            )
        else:
            arrays[column["name"]] = pa.array(values)
    return pa.table(arrays)


# -- kernels ------------------------------------------------------------------------------------


def start_kernel(kernel_name: str, cwd: str) -> tuple[KernelManager, Any]:
    """Start a kernel and a ready client. IRkernel's spec is taken from the R package itself
    when it is not registered with Jupyter (``make env`` registers it as ``ir``)."""
    spec_manager = KernelSpecManager()
    if kernel_name == "ir" and "ir" not in spec_manager.find_kernel_specs():
        spec_dir = Path(tempfile.mkdtemp(prefix="exprscope-ir-spec-"))
        (spec_dir / "ir").mkdir()
        (spec_dir / "ir" / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [
                        "R",
                        "--slave",
                        "-e",
                        "IRkernel::main()",
                        "--args",
                        "{connection_file}",
                    ],
                    "display_name": "R",
                    "language": "R",
                }
            )
        )
        spec_manager = KernelSpecManager(kernel_dirs=[str(spec_dir)])
    manager = KernelManager(kernel_name=kernel_name, kernel_spec_manager=spec_manager)
    manager.start_kernel(cwd=cwd, env=dict(os.environ))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=TIMEOUT)
    except RuntimeError:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        raise
    return manager, client


# The R kernel's own view of things, printed as JSON by test-only code.
R_KERNEL_STATE_CODE = """
cat(jsonlite::toJSON(list(
  names = I(as.character(ls(globalenv(), all.names = TRUE))),
  targets = I(as.character(names(IRkernel::comm_manager()$target_to_handler_map))),
  comms = length(IRkernel::comm_manager()$commid_to_comm)
), auto_unbox = TRUE))
"""


@contextmanager
def r_kernel_session(data_code: str) -> Iterator[KernelSession]:
    """An IRkernel that ran the R setup snippet, with a comm open and ``data_code`` run.

    ``session.names_before_setup`` / ``names_after_setup`` hold the global names before and
    after the snippet ran."""
    manager, client = start_kernel("ir", tempfile.mkdtemp(prefix="exprscope-r-kernel-"))
    try:
        session = KernelSession(manager, client)
        session.names_before_setup = session.evaluate_json(R_KERNEL_STATE_CODE)["names"]
        session.setup_outputs = session.execute(R_SETUP_SNIPPET, silent=True)
        session.names_after_setup = session.evaluate_json(R_KERNEL_STATE_CODE)["names"]
        session.comm_id = session.open_comm()
        session.execute(data_code)
        yield session
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@contextmanager
def kernel_session() -> Iterator[KernelSession]:
    """A kernel that ran the setup snippet and holds the test data."""
    # The kernel imports the installed exprscope (`make env` installs it in editable mode),
    # from an empty folder: the repository root holds folders (e.g. jest's coverage/) that
    # would shadow installed modules if they were importable.
    workdir = tempfile.mkdtemp(prefix="exprscope-kernel-")
    manager, client = start_new_kernel(
        kernel_name="python3", startup_timeout=TIMEOUT, cwd=workdir, env=dict(os.environ)
    )
    try:
        session = KernelSession(manager, client)
        # The snippet must run before a comm can be opened, like in the frontend.
        session.setup_outputs = session.execute(PYTHON_SETUP_SNIPPET, silent=True)
        session.comm_id = session.open_comm()
        session.execute(SYNTHETIC_DATA_CODE)
        session.execute(PBMC68K_CODE)
        if KANG_PBMC_H5AD.is_file():
            session.execute(KANG_CODE)
        yield session
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def build_local_data() -> dict[str, Any]:
    """The same objects as in the kernel, built in the test process."""
    namespace: dict[str, Any] = {}
    exec(SYNTHETIC_DATA_CODE, namespace)
    exec(PBMC68K_CODE, namespace)
    if KANG_PBMC_H5AD.is_file():
        exec(KANG_CODE, namespace)
    return namespace
