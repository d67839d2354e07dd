# exprscope R helper (see 00-env.R): payload columns and the other ops (hello, list, describe,
# fetch, stored_markers, cancel).
local({
  # -- payload columns -----------------------------------------------------------------------
  # A column spec: list(name, type, values[, categories]); see docs/protocol.md.

  column <- function(name, type, values, categories = NULL) {
    list(name = name, type = type, values = values, categories = categories)
  }

  # A gene sent as its non-zeros (docs/protocol.md, "fetch payload"): 0-based cells, values.
  sparse_column <- function(name, n_cells, indices, values) {
    list(name = name, type = "sparse_float32", values = values, indices = indices, n = n_cells)
  }

  # Whether a gene travels sparse: dense only where dense is smaller (Python's rule).
  sends_sparse <- function(nnz, n_cells) nnz * 8 <= n_cells * 4

  # The entries a sparse column sends: every value but +0 (NA, NaN and -0 included, so the
  # float32 bits round-trip as Python's do; 1 / -0 is -Inf).
  is_entry <- function(v) is.na(v) | v != 0 | 1 / v < 0

  # Each gene's entries (is_entry) as 1-based positions in `cells`, ascending, and values:
  # what fetch sends for it. Sparse parts (dgCMatrix) are read through their slots, never
  # densified; cells that no part holding the gene covers are NA, as in read_genes.
  gene_entries <- function(parts, genes, cells) {
    n <- length(cells)
    index <- rep(list(integer(0)), length(genes))
    value <- rep(list(numeric(0)), length(genes))
    part_cells <- list() # per part: the positions in `cells` of its cells
    gene_parts <- rep(list(integer(0)), length(genes))
    add <- function(g, pos, v) {
      keep <- !is.na(pos) & is_entry(v)
      index[[g]] <<- c(index[[g]], pos[keep])
      value[[g]] <<- c(value[[g]], v[keep])
    }
    for (part in parts) {
      rows <- match(genes, part$features)
      have <- which(!is.na(rows))
      if (length(have) == 0L) next
      at <- match(part$cells, cells)
      part_cells[[length(part_cells) + 1L]] <- at[!is.na(at)]
      for (g in have) gene_parts[[g]] <- c(gene_parts[[g]], length(part_cells))
      block <- part$m[rows[have], , drop = FALSE]
      if (methods::is(block, "CsparseMatrix")) {
        # Cells x genes: each gene's stored cells are one run of @i
        block <- methods::as(Matrix::t(block), "CsparseMatrix")
        p <- block@p
        x <- if (methods::.hasSlot(block, "x")) block@x else rep(1, length(block@i))
        for (k in seq_along(have)) {
          span <- if (p[k + 1L] > p[k]) (p[k] + 1L):p[k + 1L] else integer(0)
          add(have[k], at[block@i[span] + 1L], as.double(x[span]))
        }
      } else {
        block <- as.matrix(block)
        for (k in seq_along(have)) add(have[k], at, as.double(block[k, ]))
      }
    }
    for (g in seq_along(genes)) {
      covered <- sum(lengths(part_cells[gene_parts[[g]]]))
      if (covered < n) {
        # Layers hold disjoint cells: the ones outside every layer with this gene are NA
        inside <- logical(n)
        for (cells_of_part in part_cells[gene_parts[[g]]]) inside[cells_of_part] <- TRUE
        missing <- which(!inside)
        index[[g]] <- c(index[[g]], missing)
        value[[g]] <- c(value[[g]], rep(NA_real_, length(missing)))
      }
      o <- order(index[[g]])
      index[[g]] <- index[[g]][o]
      value[[g]] <- value[[g]][o]
    }
    list(index = index, value = value)
  }

  # Descriptors (JSON, integers only) and the payload bytes, each column 8-byte aligned.
  encode_columns <- function(columns) {
    descriptors <- vector("list", length(columns))
    chunks <- list()
    offset <- 0
    for (i in seq_along(columns)) {
      col <- columns[[i]]
      descriptor <- list(name = col$name, type = col$type, length = length(col$values))
      if (col$type == "utf8") {
        descriptor$values <- I(as.character(col$values))
      } else if (col$type == "sparse_float32") {
        # nnz int32 cells, then nnz float32 values, each run 8-byte aligned
        nnz <- length(col$values)
        descriptor$length <- as.integer(col$n)
        descriptor$nnz <- as.integer(nnz)
        descriptor$offset <- as.integer(offset)
        pad <- raw((8L - (4L * nnz) %% 8L) %% 8L)
        bytes <- c(
          writeBin(as.integer(col$indices), raw(), size = 4L, endian = "little"), pad,
          writeBin(as.double(col$values), raw(), size = 4L, endian = "little"), pad
        )
        chunks[[length(chunks) + 1L]] <- bytes
        offset <- offset + length(bytes)
      } else {
        bytes <- switch(col$type,
          float32 = writeBin(as.double(col$values), raw(), size = 4L, endian = "little"),
          float64 = writeBin(as.double(col$values), raw(), size = 8L, endian = "little"),
          int32 = ,
          dictionary = writeBin(as.integer(col$values), raw(), size = 4L, endian = "little")
        )
        descriptor$offset <- as.integer(offset)
        if (col$type == "dictionary") descriptor$categories <- I(as.character(col$categories))
        padding <- (8L - length(bytes) %% 8L) %% 8L
        chunks[[length(chunks) + 1L]] <- bytes
        if (padding > 0L) chunks[[length(chunks) + 1L]] <- raw(padding)
        offset <- offset + length(bytes) + padding
      }
      descriptors[[i]] <- descriptor
    }
    list(descriptors = descriptors, bytes = if (length(chunks)) do.call(c, chunks) else raw(0))
  }

  # -- ops -----------------------------------------------------------------------------------

  op_hello <- function(args) {
    list(result = list(protocol = PROTOCOL_VERSION, version = VERSION, language = "R"))
  }

  op_list <- function(args) {
    objects <- list()
    for (name in ls(globalenv())) {
      obj <- get0(name, envir = globalenv(), inherits = FALSE)
      kind <- object_kind(obj)
      if (is.null(kind)) next
      # One unreadable object must not hide the others; describe reports its error.
      entry <- tryCatch(
        {
          view <- make_view(obj, kind)
          list(
            name = name, type = kind, n_obs = length(view$cells),
            n_vars = length(view$genes), fingerprint = fingerprint(view)
          )
        },
        error = function(e) NULL
      )
      if (!is.null(entry)) objects[[length(objects) + 1L]] <- entry
    }
    list(result = list(objects = objects))
  }

  op_describe <- function(args) {
    name <- str_arg(args, "object")
    view <- lookup(name)
    obs <- describe_obs(view)
    entries <- matrices(view)
    emb <- embeddings(view)
    tables <- marker_tables()
    list(result = list(
      name = name, type = view$kind, n_obs = length(view$cells), n_vars = length(view$genes),
      fingerprint = fingerprint(view), obs = obs, genes = I(view$genes),
      matrices = lapply(entries, function(entry) {
        info <- list(
          id = entry$id, label = entry$label, n_vars = length(entry$features),
          dtype = entry$dtype, storage = entry$storage
        )
        if (!identical(entry$features, view$genes)) info$genes <- I(entry$features)
        info
      }),
      embeddings = lapply(names(emb), function(e) list(name = e, n_dims = ncol(emb[[e]]))),
      execution = execution_of(view),
      guesses = local({
        dataset <- guess(obs, DATASET_NAMES, 2L)
        list(
          dataset = dataset, cluster = guess(obs, CLUSTER_NAMES, 1L),
          sample = guess_sample(obs, dataset)
        )
      }),
      stored_markers = lapply(names(tables), function(key) {
        list(
          key = key, groupby = marker_groupby(view, tables[[key]]),
          method = "FindAllMarkers", matrix = view$default_matrix
        )
      })
    ))
  }

  op_fetch <- function(args) {
    name <- str_arg(args, "object")
    matrix_id <- str_arg(args, "matrix")
    genes <- str_list_arg(args, "genes")
    obs <- str_list_arg(args, "obs", optional = TRUE)
    genes <- unique(genes)
    obs <- unique(obs)
    embedding <- optional_str_arg(args, "embedding")
    cell_ids <- bool_arg(args, "cell_ids")
    if (length(genes) > MAX_GENES_PER_FETCH) {
      protocol_error(
        "too_large",
        sprintf("%d genes requested; at most %d per fetch.", length(genes), MAX_GENES_PER_FETCH),
        list(requested = length(genes), max_genes = MAX_GENES_PER_FETCH)
      )
    }
    view <- lookup(name)
    entry <- find_matrix(view, matrix_id)
    obs_values <- lapply(obs, function(column) obs_column(view, column))
    coordinates <- NULL
    if (!is.null(embedding)) {
      emb <- embeddings(view)
      if (!embedding %in% names(emb)) {
        protocol_error(
          "unknown_column", sprintf("No embedding %s.", quoted(embedding)),
          list(embedding = embedding)
        )
      }
      coordinates <- emb[[embedding]]
    }
    cells <- view$cells
    n_obs <- length(cells)
    in_matrix <- genes %in% entry$features
    estimate <- n_obs * (4 * sum(in_matrix) + 8 * length(obs) +
      (if (is.null(coordinates)) 0 else 8) + (if (cell_ids) 20 else 0))
    if (estimate > MAX_REPLY_BYTES) {
      protocol_error(
        "too_large",
        sprintf(
          "This fetch would send about %.0f MiB (limit %.0f MiB); request fewer genes.",
          estimate / 2^20, MAX_REPLY_BYTES / 2^20
        ),
        list(
          estimated_bytes = as.integer(min(estimate, .Machine$integer.max)),
          max_bytes = as.integer(MAX_REPLY_BYTES)
        )
      )
    }
    found <- genes[in_matrix]
    entries <- gene_entries(entry$parts(), found, cells)
    reasons <- character(0)
    for (gene in genes[!in_matrix]) reasons[[gene]] <- "not_in_matrix"
    columns <- list()
    for (k in seq_along(found)) {
      at <- entries$index[[k]]
      name <- paste0("gene:", found[k])
      # Each gene dense or as its non-zeros, whichever is smaller (docs/protocol.md)
      if (sends_sparse(length(at), n_obs)) {
        columns[[length(columns) + 1L]] <- sparse_column(
          name, n_obs, at - 1L, entries$value[[k]]
        )
        next
      }
      v <- numeric(n_obs)
      v[at] <- entries$value[[k]]
      # How integrated assays mark genes they do not hold (e.g. a v5 layer): report, not plot.
      if (n_obs > 0L && all(is.na(v))) {
        reasons[[found[k]]] <- "all_nan"
      } else {
        columns[[length(columns) + 1L]] <- column(name, "float32", v)
      }
    }
    for (i in seq_along(obs)) {
      v <- obs_values[[i]]
      if (column_kind(v) == "numeric") {
        columns[[length(columns) + 1L]] <- column(paste0("obs:", obs[i]), "float64", as.double(v))
      } else {
        cat <- as_categorical(v)
        columns[[length(columns) + 1L]] <- column(
          paste0("obs:", obs[i]), "dictionary", cat$codes, cat$categories
        )
      }
    }
    if (!is.null(coordinates)) {
      rows <- seq_len(n_obs)
      if (!is.null(rownames(coordinates))) rows <- match(cells, rownames(coordinates))
      for (dim in 0:1) {
        columns[[length(columns) + 1L]] <- column(
          sprintf("obsm:%s:%d", embedding, dim), "float32", coordinates[rows, dim + 1L]
        )
      }
    }
    if (cell_ids) columns[[length(columns) + 1L]] <- column("cell_id", "utf8", cells)
    missing <- genes[genes %in% names(reasons)]
    list(
      result = list(
        fingerprint = fingerprint(view), n_obs = n_obs, matrix = matrix_id,
        genes = I(setdiff(found, missing)), missing = I(missing),
        missing_reason = if (length(missing)) as.list(reasons[missing]) else EMPTY_OBJECT
      ),
      columns = columns
    )
  }

  op_stored_markers <- function(args) {
    name <- str_arg(args, "object")
    groupby <- str_arg(args, "groupby")
    n <- int_arg(args, "n", 10L, 1L, MAX_STORED_MARKERS)
    key <- optional_str_arg(args, "key")
    view <- lookup(name)
    obs_column(view, groupby)
    fp <- fingerprint(view)
    tables <- marker_tables()
    unavailable <- function(reason) {
      list(result = list(available = FALSE, reason = reason, fingerprint = fp))
    }
    if (is.null(key)) {
      # No key: the first marker table computed for this groupby.
      for (candidate in names(tables)) {
        if (identical(marker_groupby(view, tables[[candidate]]), groupby)) {
          key <- candidate
          break
        }
      }
      if (is.null(key)) {
        return(unavailable(sprintf(
          "No stored marker table (a FindAllMarkers data.frame) for %s in the kernel.",
          quoted(groupby)
        )))
      }
    }
    table <- tables[[key]]
    if (is.null(table)) {
      return(unavailable(sprintf(
        paste(
          "%s is not a marker table (a data.frame with columns cluster, gene, avg_log2FC and",
          "p_val_adj) in the kernel."
        ),
        quoted(key)
      )))
    }
    stored_for <- marker_groupby(view, table)
    if (!identical(stored_for, groupby)) {
      return(unavailable(sprintf(
        "The marker table %s is for %s, not %s.", quoted(key),
        if (is.na(stored_for)) "no metadata column of this object" else quoted(stored_for),
        quoted(groupby)
      )))
    }
    lfc <- table[[if ("avg_log2FC" %in% names(table)) "avg_log2FC" else "avg_logFC"]]
    groups <- marker_groups(table)
    cluster <- as.character(table[["cluster"]])
    rows <- unlist(lapply(groups, function(g) utils::head(which(cluster == g), n)))
    ranks <- unlist(lapply(groups, function(g) seq_len(min(n, sum(cluster == g, na.rm = TRUE)))))
    list(
      result = list(
        available = TRUE, key = key, method = "FindAllMarkers", matrix = view$default_matrix,
        groupby = groupby, reference = "rest", groups = I(groups), fingerprint = fp
      ),
      columns = list(
        column("group", "utf8", cluster[rows]),
        column("rank", "int32", ranks),
        column("gene", "utf8", as.character(table[["gene"]])[rows]),
        column("score", "float64", lfc[rows]),
        column("logfoldchange", "float64", lfc[rows]),
        column("pval_adj", "float64", table[["p_val_adj"]][rows])
      )
    )
  }

  # R serves one request at a time between cell executions: the request a cancel names has
  # already been answered, so this only acknowledges.
  op_cancel <- function(args) list(result = EMPTY_OBJECT)

  OPS <- list(
    hello = op_hello, list = op_list, describe = op_describe, fetch = op_fetch,
    group_stats = op_group_stats, pair_stats = op_pair_stats,
    stored_markers = op_stored_markers, cancel = op_cancel
  )
}, envir = .exprscope)
