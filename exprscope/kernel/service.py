"""The request dispatcher behind the ``exprscope`` comm (docs/protocol.md is the contract).

Every request gets exactly one reply: an error reply for anything that goes wrong, including
bugs (``internal``, with the traceback), so the frontend never waits for a reply that will not
come. Arrow payloads are written as an IPC stream and sent in slices of at most
``MAX_CHUNK_BYTES``, one comm message per slice.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .. import __version__, adapters
from ..adapters._stats import DEFAULT_MAX_SAMPLE, MIN_SAMPLE, SPEARMAN_EXACT, SPEARMAN_SAMPLE
from ..adapters.base import DEFAULT_MARKERS_KEY, MAX_STORED_MARKERS
from ..adapters.fetch_payload import FetchTables
from . import objects
from .args import (
    bad_argument,
    bool_arg,
    int_arg,
    optional_str_arg,
    str_arg,
    str_list_arg,
    unique,
)
from .protocol import (
    BAD_REQUEST,
    INTERNAL,
    MAX_CELLS_PER_BATCH,
    MAX_CHUNK_BYTES,
    MAX_GENES_PER_FETCH,
    NOT_FOUND,
    NOT_SUPPORTED,
    PROTOCOL_VERSION,
    TOO_LARGE,
    UNKNOWN_OP,
    ProtocolError,
)

if TYPE_CHECKING:
    from comm.base_comm import BaseComm

    from ..adapters import Adapter

#: What an op handler returns: the JSON ``result`` and an optional Arrow payload.
OpResult = tuple[dict[str, Any], pa.Table | None]

#: A ``cancel`` stopped the request (only requests that run on a worker thread can stop).
CANCELLED = "cancelled"


@dataclass
class Background:
    """What an op handler returns for work that may run beside user code because it reads no
    user object any more (e.g. DESeq2 fits on pseudobulk counts already summed): ``work`` runs
    on a worker thread, reports progress through ``progress(done, total, message)``, checks
    ``cancelled`` between steps, and returns the reply. The main shell stays free meanwhile,
    so cells run and a ``cancel`` is read at once."""

    work: Callable[[threading.Event, Callable[[int, int, str], None]], OpResult]


class Service:
    """Answers the requests arriving on one comm.

    ``namespace`` returns the user's namespace; objects are looked up in it by name, as
    dictionary keys only (names are data, never code).
    """

    def __init__(self, comm: BaseComm, namespace: Callable[[], Mapping[str, Any]]):
        self.comm = comm
        self._namespace = namespace
        self._ops: dict[str, Callable[[dict[str, Any]], OpResult]] = {
            "hello": self._hello,
            "list": self._list,
            "describe": self._describe,
            "fetch": self._fetch,
            "group_stats": self._group_stats,
            "pair_stats": self._pair_stats,
            "stored_markers": self._stored_markers,
            "compare": self._compare,
            "markers": self._markers,
            "cancel": self._cancel,
        }
        #: Requests running on worker threads, by id: their cancel events.
        self._running: dict[str | int, threading.Event] = {}
        self._request_id: str | int | None = None  # the request being handled, for progress

    def handle_msg(self, msg: dict[str, Any]) -> None:
        """The comm's ``on_msg`` callback."""
        self.handle(msg["content"].get("data"))

    def handle(self, request: Any) -> None:
        """Answer one request with exactly one reply, whatever happens."""
        request_id = _request_id(request)
        self._request_id = request_id

        def answer() -> OpResult | Background:
            op, args = self._parse(request)
            return self._ops[op](args)

        outcome = self._reply(request_id, answer)
        if isinstance(outcome, Background):
            self._start(request_id, outcome)

    def _reply(
        self, request_id: str | int | None, answer: Callable[[], OpResult | Background]
    ) -> Background | None:
        """Send ``answer()``'s reply, or its error reply, whatever happens; a Background
        outcome is returned unanswered, for a worker thread to answer."""
        try:
            outcome = answer()
            if isinstance(outcome, Background):
                return outcome
            result, table = outcome
            payload = None if table is None else _arrow_stream(table)
            # A result that cannot be serialised must become an error reply here, not an
            # exception while sending (which would leave the request unanswered).
            json.dumps(result)
        except ProtocolError as error:
            self._send_error(request_id, error)
        except Exception as error:
            self._send_error(
                request_id,
                ProtocolError(
                    INTERNAL,
                    f"{type(error).__name__}: {error}",
                    {"traceback": traceback.format_exc()},
                ),
            )
        else:
            self._send_result(request_id, result, payload)
        return None

    def _start(self, request_id: str | int | None, job: Background) -> None:
        """Run a Background job on a daemon thread (a restart simply ends it)."""
        cancelled = threading.Event()
        key = request_id if request_id is not None else id(job)
        self._running[key] = cancelled

        def progress(done: int, total: int, message: str) -> None:
            self.send_progress(request_id, done, total, message)

        def run() -> None:
            try:
                self._reply(request_id, lambda: job.work(cancelled, progress))
            finally:
                self._running.pop(key, None)

        threading.Thread(target=run, name=f"exprscope-{request_id}", daemon=True).start()

    def send_progress(self, request_id: str | int | None, done: int, total: int, message: str):
        """A progress message for a request still running (docs/protocol.md, "Progress")."""
        self.comm.send(
            {
                "id": request_id,
                "ok": True,
                "progress": {"done": int(done), "total": int(total), "message": str(message)},
            }
        )

    def _parse(self, request: Any) -> tuple[str, dict[str, Any]]:
        if not isinstance(request, dict):
            raise ProtocolError(BAD_REQUEST, "A request must be a JSON object.")
        if _request_id(request) is None:
            raise ProtocolError(BAD_REQUEST, "The request has no 'id' (a string).")
        op = request.get("op")
        if not isinstance(op, str):
            raise ProtocolError(BAD_REQUEST, "The request has no 'op' (a string).")
        if op not in self._ops:
            raise ProtocolError(
                UNKNOWN_OP, f"Unknown op {op!r}; known: {', '.join(self._ops)}.", {"op": op}
            )
        args = request.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ProtocolError(BAD_REQUEST, "'args' must be an object.", {"argument": "args"})
        return op, args

    # -- ops -----------------------------------------------------------------------------------

    def _hello(self, args: dict[str, Any]) -> OpResult:
        return {"protocol": PROTOCOL_VERSION, "version": __version__, "language": "python"}, None

    def _list(self, args: dict[str, Any]) -> OpResult:
        objects = []
        # Copy the items: user code cannot run meanwhile, but adapters may touch the namespace.
        for name, obj in list(self._namespace().items()):
            if name.startswith("_"):
                continue
            adapter = adapters.adapter_for(obj)
            if adapter is not None:
                objects.append({"name": name, **adapter.summary()})
        return {"objects": objects}, None

    def _describe(self, args: dict[str, Any]) -> OpResult:
        name, adapter = self._lookup(str_arg(args, "object"))
        return {"name": name, **adapter.describe()}, None

    def _fetch(self, args: dict[str, Any]) -> OpResult:
        name = str_arg(args, "object")
        matrix = str_arg(args, "matrix")
        genes = str_list_arg(args, "genes")
        obs = str_list_arg(args, "obs", optional=True)
        embedding = optional_str_arg(args, "embedding")
        cell_ids = bool_arg(args, "cell_ids")
        if len(genes) > MAX_GENES_PER_FETCH:
            raise ProtocolError(
                TOO_LARGE,
                f"{len(genes):,} genes requested; at most {MAX_GENES_PER_FETCH:,} per fetch.",
                {"requested": len(genes), "max_genes": MAX_GENES_PER_FETCH},
            )
        _, adapter = self._lookup(name)
        table, result = adapter.fetch(
            matrix, unique(genes), unique(obs), embedding=embedding, cell_ids=cell_ids
        )
        return result, table

    def _group_stats(self, args: dict[str, Any]) -> OpResult:
        name = str_arg(args, "object")
        matrix = str_arg(args, "matrix")
        groupby = str_list_arg(args, "groupby")
        # Up to three: the heatmap's dataset, cluster and sample columns
        if not 1 <= len(groupby) <= 3 or len(set(groupby)) != len(groupby):
            raise bad_argument("groupby", "a list of one to three distinct obs column names")
        # No genes (absent or null): every gene of the matrix
        genes = None if args.get("genes") is None else str_list_arg(args, "genes")
        expm1 = bool_arg(args, "expm1")
        _, adapter = self._lookup(name)
        table, result = adapter.group_stats(
            matrix, groupby, None if genes is None else unique(genes), expm1
        )
        return result, table

    def _pair_stats(self, args: dict[str, Any]) -> OpResult:
        name = str_arg(args, "object")
        matrix = str_arg(args, "matrix")
        gene_x = str_arg(args, "gene_x")
        gene_y = str_arg(args, "gene_y")
        groupby = str_list_arg(args, "groupby")
        if not 1 <= len(groupby) <= 2 or len(set(groupby)) != len(groupby):
            raise bad_argument("groupby", "a list of one or two distinct obs column names")
        detected_only = bool_arg(args, "detected_only")
        spearman = args.get("spearman", SPEARMAN_EXACT)
        if spearman not in (SPEARMAN_EXACT, SPEARMAN_SAMPLE):
            raise bad_argument("spearman", '"exact" or "sample"')
        max_sample = int_arg(
            args, "max_sample", default=DEFAULT_MAX_SAMPLE, minimum=MIN_SAMPLE, maximum=2**31 - 1
        )
        _, adapter = self._lookup(name)
        table, result = adapter.pair_stats(
            matrix,
            gene_x,
            gene_y,
            groupby,
            detected_only=detected_only,
            spearman=spearman,
            max_sample=max_sample,
        )
        return result, table

    def _stored_markers(self, args: dict[str, Any]) -> OpResult:
        name = str_arg(args, "object")
        groupby = str_arg(args, "groupby")
        n = int_arg(args, "n", default=10, minimum=1, maximum=MAX_STORED_MARKERS)
        key = optional_str_arg(args, "key") or DEFAULT_MARKERS_KEY
        _, adapter = self._lookup(name)
        table, result = adapter.stored_markers(groupby, n, key)
        return result, table

    def _compare(self, args: dict[str, Any]) -> OpResult | Background:
        from .compare_op import compare

        name = str_arg(args, "object")
        _, adapter = self._lookup(name)
        request_id = self._request_id
        return compare(
            adapter,
            args,
            lambda done, total, message: self.send_progress(request_id, done, total, message),
        )

    def _markers(self, args: dict[str, Any]) -> Background:
        from .markers_op import markers

        _, adapter = self._lookup(str_arg(args, "object"))
        request_id = self._request_id
        return markers(
            adapter,
            args,
            lambda done, total, message: self.send_progress(request_id, done, total, message),
        )

    def _cancel(self, args: dict[str, Any]) -> OpResult:
        """Stop a request running on a worker thread (``compare``'s DESeq2 fits, the ranking of
        ``markers``) before its next step; it then answers ``cancelled``. Other requests have
        already been answered when a ``cancel`` is read (the kernel serves them one at a time,
        in order): for them this only acknowledges, and the frontend drops their late reply."""
        target = args.get("id")
        event = self._running.get(target) if isinstance(target, str | int) else None
        if event is not None:
            event.set()
        return {"running": event is not None}, None

    def _lookup(self, name: str) -> tuple[str, Adapter]:
        """The adapter for the user's object ``name`` (a plain dictionary key, never code), or
        for an object a notebook widget registered under a handle (``kernel/objects.py``)."""
        obj = objects.registered(name)
        if obj is None:
            namespace = self._namespace()
            if name.startswith("_") or name not in namespace:
                raise ProtocolError(
                    NOT_FOUND, f"No object named {name!r} in the kernel.", {"object": name}
                )
            obj = namespace[name]
        adapter = adapters.adapter_for(obj)
        if adapter is None:
            raise ProtocolError(
                NOT_SUPPORTED,
                f"{name!r} is a {type(obj).__name__}; exprscope reads AnnData objects.",
                {"object": name, "type": type(obj).__name__},
            )
        return name, adapter

    # -- replies -------------------------------------------------------------------------------

    def _send_error(self, request_id: str | int | None, error: ProtocolError) -> None:
        self.comm.send({"id": request_id, "ok": False, "error": error.to_json()})

    def _send_result(
        self, request_id: str | int | None, result: dict[str, Any], payload: pa.Buffer | None
    ) -> None:
        if payload is None:
            self.comm.send({"id": request_id, "ok": True, "part": 0, "parts": 1, "result": result})
            return
        # Zero-copy slices of the stream; the memoryviews keep the Arrow buffer alive until
        # the messages are sent.
        data = memoryview(payload)
        starts = range(0, max(len(data), 1), MAX_CHUNK_BYTES)
        for part, start in enumerate(starts):
            message = {"id": request_id, "ok": True, "part": part, "parts": len(starts)}
            if part == 0:
                message["result"] = result
            self.comm.send(message, buffers=[data[start : start + MAX_CHUNK_BYTES]])


def _arrow_stream(table: pa.Table | FetchTables) -> pa.Buffer:
    """The table as an Arrow IPC stream, in record batches of about one chunk each, so that a
    frontend could decode batches while later parts are still arriving. A ``fetch`` reply's
    tables (dense and sparse genes) are two streams back to back (adapters/fetch_payload.py)."""
    if isinstance(table, FetchTables):
        return table.ipc_stream()
    bytes_per_cell = max(1, table.nbytes // max(1, table.num_rows))
    cells_per_batch = max(1, min(MAX_CELLS_PER_BATCH, MAX_CHUNK_BYTES // bytes_per_cell))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=cells_per_batch)
    return sink.getvalue()


# -- request validation --------------------------------------------------------------------------


def _request_id(request: Any) -> str | int | None:
    """The request's id when it is usable for matching the reply, else None."""
    if not isinstance(request, dict):
        return None
    request_id = request.get("id")
    if isinstance(request_id, str) or (
        isinstance(request_id, int) and not isinstance(request_id, bool)
    ):
        return request_id
    return None
