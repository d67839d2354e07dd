# exprscope R helper: answers the exprscope comm protocol (docs/protocol.md) in IRkernel.
#
# The helper is these files, 00-env.R to 07-start.R, run in name order as one text: the R
# setup snippet (exprscope.kernel.R_SETUP_SNIPPET reads them; src/bridge/setup.ts imports
# them at build time). The JupyterLab extension runs it silently in every R kernel it attaches
# to. It leaves one hidden object in the global environment, the environment .exprscope,
# registers the comm target "exprscope" with IRkernel's comm manager and attaches the
# environment "exprscope" (the notebook functions exprscope_heatmap and
# exprscope_dual_expression) to the search path (idempotent: running it again replaces the one
# registration and the two functions). It is constant code: object, gene and column names
# arrive only as data inside comm messages or as the users' own arguments, never as code.
#
# Needs only what IRkernel and the objects' own packages already need (jsonlite and digest
# come with IRkernel, Matrix with R).
#
# IRkernel comms carry no binary buffers and jsonlite rounds numbers to 4 digits, so payloads
# are raw little-endian column bytes sent as base64 text (docs/protocol.md, "Payloads from R")
# and every number in JSON is an integer. IRkernel swallows handler errors: every request is
# answered explicitly, errors included.
# The helper's functions live in an environment whose parent is base R, so packages the user
# attaches (BiocGenerics, dplyr, ...) cannot mask the functions it calls; other packages are
# called with ::. Each file defines its part inside local(..., envir = .exprscope). Its own
# errors are raised before, never inside, arguments of S4 generics (which would wrap them
# into plain errors).
#
# This file: the environment, limits and names, and the errors every part raises.
.exprscope <- new.env(parent = baseenv())
local({
  VERSION <- "0.1.0"
  PROTOCOL_VERSION <- 2L
  TARGET <- "exprscope"
  MAX_CHUNK_BYTES <- 8L * 1024L * 1024L
  MAX_MESSAGE_CHARS <- 1000L # longer error messages are shortened in the middle
  MAX_GENES_PER_FETCH <- 2000L
  MAX_REPLY_BYTES <- 1024 * 1024 * 1024
  MAX_STAT_GROUPS <- 1000L
  # Above this many cells plots ask for per-group statistics, not cells (protocol.py's).
  KERNEL_PATH_MIN_CELLS <- 100000L
  MIN_CORRELATION_CELLS <- 3L
  DEFAULT_MAX_SAMPLE <- 50000L
  SAMPLE_SEED <- 0L # seeds per group: SAMPLE_SEED + group index (R's generator, not numpy's)
  MAX_GROUP_STATS_VALUES <- 4e6
  MAX_STORED_MARKERS <- 200L
  MAX_CATEGORIES <- 200L
  DATASET_NAMES <- c("dataset", "sample", "orig.ident", "batch", "condition", "stim", "donor")
  CLUSTER_NAMES <- c(
    "leiden", "louvain", "seurat_clusters", "cluster", "clusters", "cell_type", "celltype",
    "cell_types"
  )
  SAMPLE_NAMES <- c(
    "sample", "sample_id", "samples", "donor", "donor_id", "orig.ident", "replicate", "patient",
    "patient_id", "individual", "ind", "subject"
  )
  # Seurat slots / v5 layer bases, in the order matrices are listed.
  SEURAT_SLOTS <- c("data", "scale.data", "counts")
  NEWLINE <- intToUtf8(10L)
  NULL_JSON <- NA # a logical NA is written as JSON null (NULL would become {})
  EMPTY_OBJECT <- structure(list(), names = character(0))

  # -- errors --------------------------------------------------------------------------------

  protocol_error <- function(code, message, details = NULL) {
    stop(structure(
      class = c("exprscope_error", "error", "condition"),
      list(message = message, call = NULL, code = code, details = details)
    ))
  }

  bad_argument <- function(name, expected) {
    protocol_error(
      "bad_request", sprintf("Argument '%s' must be %s.", name, expected),
      list(argument = name)
    )
  }

  quoted <- function(x) paste0("'", x, "'")
}, envir = .exprscope)
