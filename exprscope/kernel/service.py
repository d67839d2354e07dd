"""The request dispatcher behind the ``exprscope`` comm (docs/protocol.md is the contract).

Every request gets exactly one reply: an error reply for anything that goes wrong, including
bugs (``internal``, with the traceback), so the frontend never waits for a reply that will not
come. Arrow payloads are written as an IPC stream and sent in slices of at most
``MAX_CHUNK_BYTES``, one comm message per slice.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .. import __version__, adapters
from ..adapters._stats import DEFAULT_MAX_SAMPLE, MIN_SAMPLE, SPEARMAN_EXACT, SPEARMAN_SAMPLE
from ..adapters.base import DEFAULT_MARKERS_KEY, MAX_STORED_MARKERS
from . import objects
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
            "cancel": self._cancel,
        }

    def handle_msg(self, msg: dict[str, Any]) -> None:
        """The comm's ``on_msg`` callback."""
        self.handle(msg["content"].get("data"))

    def handle(self, request: Any) -> None:
        """Answer one request with exactly one reply, whatever happens."""
        request_id = _request_id(request)
        try:
            op, args = self._parse(request)
            result, table = self._ops[op](args)
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
        name, adapter = self._lookup(_str_arg(args, "object"))
        return {"name": name, **adapter.describe()}, None

    def _fetch(self, args: dict[str, Any]) -> OpResult:
        name = _str_arg(args, "object")
        matrix = _str_arg(args, "matrix")
        genes = _str_list_arg(args, "genes")
        obs = _str_list_arg(args, "obs", optional=True)
        embedding = _optional_str_arg(args, "embedding")
        cell_ids = _bool_arg(args, "cell_ids")
        if len(genes) > MAX_GENES_PER_FETCH:
            raise ProtocolError(
                TOO_LARGE,
                f"{len(genes):,} genes requested; at most {MAX_GENES_PER_FETCH:,} per fetch.",
                {"requested": len(genes), "max_genes": MAX_GENES_PER_FETCH},
            )
        _, adapter = self._lookup(name)
        table, result = adapter.fetch(
            matrix, _unique(genes), _unique(obs), embedding=embedding, cell_ids=cell_ids
        )
        return result, table

    def _group_stats(self, args: dict[str, Any]) -> OpResult:
        name = _str_arg(args, "object")
        matrix = _str_arg(args, "matrix")
        groupby = _str_list_arg(args, "groupby")
        if not 1 <= len(groupby) <= 2 or len(set(groupby)) != len(groupby):
            raise _bad_argument("groupby", "a list of one or two distinct obs column names")
        # No genes (absent or null): every gene of the matrix
        genes = None if args.get("genes") is None else _str_list_arg(args, "genes")
        expm1 = _bool_arg(args, "expm1")
        _, adapter = self._lookup(name)
        table, result = adapter.group_stats(
            matrix, groupby, None if genes is None else _unique(genes), expm1
        )
        return result, table

    def _pair_stats(self, args: dict[str, Any]) -> OpResult:
        name = _str_arg(args, "object")
        matrix = _str_arg(args, "matrix")
        gene_x = _str_arg(args, "gene_x")
        gene_y = _str_arg(args, "gene_y")
        groupby = _str_list_arg(args, "groupby")
        if not 1 <= len(groupby) <= 2 or len(set(groupby)) != len(groupby):
            raise _bad_argument("groupby", "a list of one or two distinct obs column names")
        detected_only = _bool_arg(args, "detected_only")
        spearman = args.get("spearman", SPEARMAN_EXACT)
        if spearman not in (SPEARMAN_EXACT, SPEARMAN_SAMPLE):
            raise _bad_argument("spearman", '"exact" or "sample"')
        max_sample = _int_arg(
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
        name = _str_arg(args, "object")
        groupby = _str_arg(args, "groupby")
        n = _int_arg(args, "n", default=10, minimum=1, maximum=MAX_STORED_MARKERS)
        key = _optional_str_arg(args, "key") or DEFAULT_MARKERS_KEY
        _, adapter = self._lookup(name)
        table, result = adapter.stored_markers(groupby, n, key)
        return result, table

    def _cancel(self, args: dict[str, Any]) -> OpResult:
        """Acknowledge only. The kernel serves requests one at a time, in order, so the request
        a ``cancel`` names has already been answered when the ``cancel`` is read. Cancelling
        happens in the frontend: it rejects the pending request and drops the late reply."""
        return {}, None

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


def _arrow_stream(table: pa.Table) -> pa.Buffer:
    """The table as an Arrow IPC stream, in record batches of about one chunk each, so that a
    frontend could decode batches while later parts are still arriving."""
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


def _bad_argument(name: str, expected: str) -> ProtocolError:
    return ProtocolError(BAD_REQUEST, f"Argument {name!r} must be {expected}.", {"argument": name})


def _str_arg(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise _bad_argument(name, "a string")
    return value


def _optional_str_arg(args: dict[str, Any], name: str) -> str | None:
    return None if args.get(name) is None else _str_arg(args, name)


def _str_list_arg(args: dict[str, Any], name: str, *, optional: bool = False) -> list[str]:
    value = args.get(name)
    if value is None and optional:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad_argument(name, "a list of strings")
    return value


def _bool_arg(args: dict[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if not isinstance(value, bool):
        raise _bad_argument(name, "true or false")
    return value


def _int_arg(args: dict[str, Any], name: str, *, default: int, minimum: int, maximum: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise _bad_argument(name, f"an integer from {minimum} to {maximum}")
    return value


def _unique(items: list[str]) -> list[str]:
    """Without duplicates, in first-seen order."""
    return list(dict.fromkeys(items))
