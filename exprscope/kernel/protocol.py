"""Constants and errors of the exprscope comm protocol (see ``docs/protocol.md``).

The TypeScript side (``src/bridge/``) mirrors these values; the protocol document is the
contract both follow.
"""

from __future__ import annotations

from typing import Any

PROTOCOL_VERSION = 2
COMM_TARGET = "exprscope"

#: Largest binary slice sent in one comm message. The Jupyter server drops iopub messages
#: above ~1,000/s, so replies are a few large messages rather than many small ones.
MAX_CHUNK_BYTES = 8 * 1024 * 1024

#: Most genes one ``fetch`` may request; more is ``too_large``.
MAX_GENES_PER_FETCH = 2000

#: Largest (estimated) Arrow payload of one ``fetch``; more is ``too_large``. Beyond this, the
#: kernel should ship per-group statistics instead of cells (see DESIGN.md).
MAX_REPLY_BYTES = 1024 * 1024 * 1024

#: Upper bound on cells per Arrow record batch. Batches are sized to about one chunk so the
#: frontend could decode the stream while parts are still arriving.
MAX_CELLS_PER_BATCH = 1_000_000

#: ``describe``'s ``execution.path`` is ``"kernel"`` for in-memory objects above this many cells
#: (always for backed, Dask and TileDB-SOMA sources): the dual view then asks for per-group
#: correlations instead of cells, and the sidebar does not preload the selected genes' cells.
#: Heatmaps are drawn from per-group sums (``group_stats``) at every size. Measured by
#: ``make bench`` (docs/performance.md): at 10⁵ cells a 50-gene heatmap took 2.6 s through the
#: browser (shipping 20 MB of cells) against 0.07 s for the same table from sums in the kernel.
#: The cells path keeps what only cells give (lasso, per-cell hover, bootstrap intervals) for
#: the objects where it costs little.
KERNEL_PATH_MIN_CELLS = 100_000

# Error codes (the table in docs/protocol.md).
BAD_REQUEST = "bad_request"
UNKNOWN_OP = "unknown_op"
NOT_FOUND = "not_found"
NOT_SUPPORTED = "not_supported"
UNKNOWN_MATRIX = "unknown_matrix"
UNKNOWN_COLUMN = "unknown_column"
TOO_LARGE = "too_large"
NOT_INSTALLED = "not_installed"
INTERNAL = "internal"

#: Longer error messages are shortened in the middle.
MAX_MESSAGE_CHARS = 1_000


class ProtocolError(Exception):
    """An error reply: raised anywhere while handling a request, sent back as ``error``."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        """The ``error`` member of the reply."""
        message = self.message
        if len(message) > MAX_MESSAGE_CHARS:
            # Messages quote what was sent (e.g. a 100k-character "name"): keep them readable,
            # with both ends, where the quoted value starts and the explanation ends.
            message = f"{message[:600]} ... {message[-300:]}"
        error: dict[str, Any] = {"code": self.code, "message": message}
        if self.details:
            error["details"] = self.details
        return error
