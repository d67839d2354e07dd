# exprscope R helper: answers the exprscope comm protocol (docs/protocol.md) in IRkernel.
#
# This whole file is the R setup snippet: the JupyterLab extension runs it silently in every R
# kernel it attaches to (src/bridge/setup.ts holds a verbatim copy; a test keeps the two equal).
# It leaves one hidden object in the global environment, the environment .exprscope,
# registers the comm target "exprscope" with IRkernel's comm manager and attaches the
# environment "exprscope" (the notebook functions exprscope_heatmap and
# exprscope_dual_expression) to the search path (idempotent: running it again replaces the one
# registration and the two functions). It is constant code: object, gene and column names
# arrive only as data inside comm messages or as the users' own arguments, never as code.
#
# Kept free of backticks, dollar-brace and backslashes, so it sits unchanged in a TypeScript
# template literal. Needs only what IRkernel and the objects' own packages already need
# (jsonlite and digest come with IRkernel, Matrix with R).
#
# IRkernel comms carry no binary buffers and jsonlite rounds numbers to 4 digits, so payloads
# are raw little-endian column bytes sent as base64 text (docs/protocol.md, "Payloads from R")
# and every number in JSON is an integer. IRkernel swallows handler errors: every request is
# answered explicitly, errors included.
# The helper's functions live in an environment whose parent is base R, so packages the user
# attaches (BiocGenerics, dplyr, ...) cannot mask the functions it calls; other packages are
# called with ::. Its own errors are raised before, never inside, arguments of S4 generics
# (which would wrap them into plain errors).
.exprscope <- local({
  VERSION <- "0.1.0"
  PROTOCOL_VERSION <- 1L
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

  # -- request arguments (parsed by jsonlite::fromJSON, so JSON arrays arrive as vectors) ------

  is_string <- function(x) is.character(x) && length(x) == 1L && !is.na(x)

  is_json_object <- function(x) {
    is.list(x) && !is.data.frame(x) && (length(x) == 0L || !is.null(names(x)))
  }

  request_id <- function(request) {
    if (!is_json_object(request)) {
      return(NULL_JSON)
    }
    id <- request[["id"]]
    if (is_string(id)) {
      return(id)
    }
    if (is.numeric(id) && length(id) == 1L && !is.na(id) && id == round(id) && abs(id) < 2^31) {
      return(as.integer(id))
    }
    NULL_JSON
  }

  str_arg <- function(args, name) {
    value <- args[[name]]
    if (!is_string(value)) bad_argument(name, "a string")
    value
  }

  optional_str_arg <- function(args, name) {
    if (is.null(args[[name]])) NULL else str_arg(args, name)
  }

  str_list_arg <- function(args, name, optional = FALSE) {
    value <- args[[name]]
    if (is.null(value) && optional) {
      return(character(0))
    }
    if (is.list(value) && length(value) == 0L && !is.data.frame(value)) {
      return(character(0)) # an empty JSON array
    }
    if (!is.character(value) || anyNA(value)) bad_argument(name, "a list of strings")
    value
  }

  bool_arg <- function(args, name) {
    value <- args[[name]]
    if (is.null(value)) {
      return(FALSE)
    }
    if (!is.logical(value) || length(value) != 1L || is.na(value)) {
      bad_argument(name, "true or false")
    }
    value
  }

  int_arg <- function(args, name, default, minimum, maximum) {
    value <- args[[name]]
    if (is.null(value)) {
      return(default)
    }
    if (!is.numeric(value) || length(value) != 1L || is.na(value) || value != round(value) ||
      value < minimum || value > maximum) {
      bad_argument(name, sprintf("an integer from %d to %d", minimum, maximum))
    }
    as.integer(value)
  }

  # -- objects in the global environment -----------------------------------------------------

  object_kind <- function(x) {
    if (methods::is(x, "Seurat")) {
      return("Seurat")
    }
    if (methods::is(x, "SingleCellExperiment")) {
      return("SingleCellExperiment")
    }
    NULL
  }

  # Names are looked up as data (exists/get), never parsed; hidden names are not served.
  # R names hold at most 10,000 bytes (exists() fails on longer ones): no object has them.
  lookup <- function(name) {
    if (!nzchar(name) || startsWith(name, ".") || nchar(name, type = "bytes") > 10000L ||
      !exists(name, envir = globalenv(), inherits = FALSE)) {
      protocol_error(
        "not_found", sprintf("No object named %s in the kernel.", quoted(name)),
        list(object = name)
      )
    }
    obj <- get(name, envir = globalenv(), inherits = FALSE)
    kind <- object_kind(obj)
    if (is.null(kind)) {
      type <- class(obj)[1L]
      protocol_error(
        "not_supported",
        sprintf(
          "%s is a %s; exprscope reads Seurat and SingleCellExperiment objects.",
          quoted(name), type
        ),
        list(object = name, type = type)
      )
    }
    make_view(obj, kind)
  }

  names_or_index <- function(x, n) if (is.null(x)) as.character(seq_len(n)) else x

  # A view of one object: its cells, genes, cell metadata, matrices and embeddings, read
  # from the object's slots so Seurat v4 (Assay) and v5 (Assay5 layers) are read alike.
  make_view <- function(obj, kind) {
    if (kind == "Seurat") {
      meta <- methods::slot(obj, "meta.data")
      assays <- methods::slot(obj, "assays")
      default <- methods::slot(obj, "active.assay")
      genes <- assay_features(assays[[default]])
      list(
        obj = obj, kind = kind, cells = rownames(meta), genes = genes,
        obs_names = colnames(meta), obs = function(name) meta[[name]],
        default_matrix = paste0(default, "/data")
      )
    } else {
      n_cells <- ncol(obj)
      cells <- names_or_index(colnames(obj), n_cells)
      genes <- names_or_index(rownames(obj), nrow(obj))
      coldata <- SummarizedExperiment::colData(obj)
      assay_names <- SummarizedExperiment::assayNames(obj)
      default <- if ("logcounts" %in% assay_names) "logcounts" else assay_names[1L]
      list(
        obj = obj, kind = kind, cells = cells, genes = genes,
        obs_names = colnames(coldata), obs = function(name) coldata[[name]],
        default_matrix = if (is.na(default)) NA_character_ else paste0("assays/", default)
      )
    }
  }

  # -- matrices ------------------------------------------------------------------------------
  # A matrix entry lists the parts it is made of: list(m = genes x cells, features, cells).
  # A Seurat v4 slot or an SCE assay is one part; a Seurat v5 layer split by sample
  # (data.ctrl, data.stim) is one part per layer, joined by cell name.

  is_assay5 <- function(assay) methods::.hasSlot(assay, "layers")

  # A LogMap (v5: logical matrix, rows = cells or features, columns = layers) as a plain one.
  plain_logmap <- function(x) {
    matrix(as.logical(x), nrow = nrow(x), ncol = ncol(x), dimnames = dimnames(x))
  }

  assay_features <- function(assay) {
    if (is.null(assay)) {
      return(character(0))
    }
    if (is_assay5(assay)) {
      return(rownames(methods::slot(assay, "features")))
    }
    genes <- rownames(methods::slot(assay, "data"))
    if (length(genes) == 0L) genes <- rownames(methods::slot(assay, "counts"))
    if (is.null(genes)) character(0) else genes
  }

  # The layer base of a v5 layer name: "data.ctrl" -> "data", "scale.data" -> "scale.data".
  layer_base <- function(name) {
    for (base in c("scale.data", "counts", "data")) {
      if (name == base || startsWith(name, paste0(base, "."))) {
        return(base)
      }
    }
    name
  }

  assay5_parts <- function(assay, layers_of_base) {
    layers <- methods::slot(assay, "layers")
    cell_map <- plain_logmap(methods::slot(assay, "cells"))
    feature_map <- plain_logmap(methods::slot(assay, "features"))
    lapply(layers_of_base, function(layer) {
      m <- layers[[layer]]
      # SeuratObject 5 stores layers without dimnames; the LogMaps say which cells and
      # features a layer holds, in its column/row order.
      cells <- colnames(m)
      if (is.null(cells)) cells <- rownames(cell_map)[cell_map[, layer]]
      features <- rownames(m)
      if (is.null(features)) features <- rownames(feature_map)[feature_map[, layer]]
      if (length(cells) != ncol(m) || length(features) != nrow(m)) {
        stop(sprintf("Layer %s does not match the assay's cell and feature maps.", layer))
      }
      list(m = m, features = features, cells = cells)
    })
  }

  storage_of <- function(m) {
    if (methods::is(m, "dgCMatrix")) {
      return("csc")
    }
    if (methods::is(m, "dgRMatrix")) {
      return("csr")
    }
    if (is.matrix(m)) {
      return("dense")
    }
    class(m)[1L]
  }

  dtype_of <- function(m) {
    if (is.matrix(m) && is.integer(m)) "int32" else "float64"
  }

  # Every readable matrix of the view, in order: the default assay first.
  matrices <- function(view) {
    entries <- list()
    add <- function(id, label, parts_fn, features, first) {
      entries[[length(entries) + 1L]] <<- list(
        id = id, label = label, parts = parts_fn, features = features,
        dtype = dtype_of(first), storage = storage_of(first)
      )
    }
    obj <- view$obj
    if (view$kind == "Seurat") {
      assays <- methods::slot(obj, "assays")
      default <- methods::slot(obj, "active.assay")
      for (assay_name in c(default, setdiff(names(assays), default))) {
        assay <- assays[[assay_name]]
        if (is.null(assay)) next
        if (is_assay5(assay)) {
          layer_names <- names(methods::slot(assay, "layers"))
          bases <- vapply(layer_names, layer_base, "")
          ordered <- c(intersect(SEURAT_SLOTS, bases), setdiff(unique(bases), SEURAT_SLOTS))
          feature_map <- plain_logmap(methods::slot(assay, "features"))
          for (base in ordered) {
            of_base <- layer_names[bases == base]
            held <- rowSums(feature_map[, of_base, drop = FALSE]) > 0
            label <- paste(assay_name, base)
            if (length(of_base) > 1L) {
              label <- sprintf("%s (%d layers joined)", label, length(of_base))
            }
            add(
              paste0(assay_name, "/", base), label,
              local({
                a <- assay
                l <- of_base
                function() assay5_parts(a, l)
              }),
              rownames(feature_map)[held], methods::slot(assay, "layers")[[of_base[1L]]]
            )
          }
        } else {
          for (slot_name in SEURAT_SLOTS) {
            if (!methods::.hasSlot(assay, slot_name)) next
            m <- methods::slot(assay, slot_name)
            if (length(dim(m)) != 2L || nrow(m) == 0L || ncol(m) == 0L) next
            add(
              paste0(assay_name, "/", slot_name), paste(assay_name, slot_name),
              local({
                mm <- m
                function() list(list(m = mm, features = rownames(mm), cells = colnames(mm)))
              }),
              rownames(m), m
            )
          }
        }
      }
    } else {
      for (assay_name in SummarizedExperiment::assayNames(obj)) {
        m <- SummarizedExperiment::assay(obj, assay_name, withDimnames = TRUE)
        features <- names_or_index(rownames(m), nrow(m))
        cells <- names_or_index(colnames(m), ncol(m))
        add(
          paste0("assays/", assay_name), assay_name,
          local({
            mm <- m
            f <- features
            cc <- cells
            function() list(list(m = mm, features = f, cells = cc))
          }),
          features, m
        )
      }
    }
    entries
  }

  find_matrix <- function(view, id) {
    for (entry in matrices(view)) {
      if (entry$id == id) {
        return(entry)
      }
    }
    known <- vapply(matrices(view), function(e) e$id, "")
    protocol_error(
      "unknown_matrix",
      sprintf("No matrix %s; this object has: %s.", quoted(id), paste(known, collapse = ", ")),
      list(matrix = id)
    )
  }

  # Cells x genes (double), in the view's cell order; NA where no part holds a gene or cell.
  # Cells are matched by name: IntegrateData and v5 split layers store them in other orders.
  read_genes <- function(parts, genes, cells) {
    out <- matrix(NA_real_, nrow = length(cells), ncol = length(genes))
    for (part in parts) {
      rows <- match(genes, part$features)
      have <- which(!is.na(rows))
      if (length(have) == 0L) next
      at <- match(part$cells, cells)
      keep <- which(!is.na(at))
      block <- as.matrix(part$m[rows[have], , drop = FALSE])
      out[at[keep], have] <- t(block[, keep, drop = FALSE])
    }
    out
  }

  # -- cell metadata -------------------------------------------------------------------------

  is_plain_vector <- function(v) (is.atomic(v) || is.factor(v)) && is.null(dim(v))

  n_unique <- function(v) {
    if (!is_plain_vector(v)) {
      return(NULL_JSON)
    }
    length(unique(v[!is.na(v)]))
  }

  column_kind <- function(v) {
    if (is.factor(v) || (is.logical(v) && is_plain_vector(v))) {
      return("categorical")
    }
    if (!is_plain_vector(v)) {
      return("other")
    }
    if (is.integer(v)) {
      return(if (n_unique(v) <= MAX_CATEGORIES) "categorical" else "numeric")
    }
    if (is.numeric(v)) {
      return("numeric")
    }
    if (is.character(v)) {
      return(if (n_unique(v) <= MAX_CATEGORIES) "categorical" else "other")
    }
    "other"
  }

  # Codes (0-based, -1 = missing) and categories as text: factors as stored, other columns
  # their sorted distinct values (text in C-locale order, like Python's).
  as_categorical <- function(v) {
    if (is.factor(v)) {
      codes <- as.integer(v) - 1L
      codes[is.na(codes)] <- -1L
      return(list(codes = codes, categories = levels(v)))
    }
    if (!is_plain_vector(v)) v <- vapply(v, function(x) paste(format(x), collapse = " "), "")
    values <- unique(v[!is.na(v)])
    values <- if (is.character(values)) sort(values, method = "radix") else sort(values)
    codes <- match(v, values) - 1L
    codes[is.na(codes)] <- -1L
    list(codes = codes, categories = as.character(values))
  }

  obs_column <- function(view, name) {
    if (!name %in% view$obs_names) {
      protocol_error(
        "unknown_column", sprintf("No cell metadata column %s.", quoted(name)),
        list(column = name)
      )
    }
    view$obs(name)
  }

  describe_obs <- function(view) {
    lapply(view$obs_names, function(name) {
      v <- view$obs(name)
      kind <- column_kind(v)
      if (kind != "categorical") {
        return(list(name = name, kind = kind, n_unique = n_unique(v)))
      }
      cat <- as_categorical(v)
      counts <- tabulate(cat$codes + 1L, nbins = length(cat$categories))
      list(
        name = name, kind = kind, n_unique = length(cat$categories),
        categories = lapply(seq_along(cat$categories), function(i) {
          list(name = cat$categories[i], n_cells = counts[i])
        })
      )
    })
  }

  guess <- function(obs, names, min_categories) {
    lower <- vapply(obs, function(column) tolower(column$name), "")
    for (name in names) {
      hit <- match(name, lower)
      if (is.na(hit)) next
      column <- obs[[hit]]
      if (column$kind != "categorical") next
      non_empty <- sum(vapply(column$categories, function(c) c$n_cells > 0L, TRUE))
      if (non_empty >= min_categories) {
        return(column$name)
      }
    }
    NULL_JSON
  }

  # -- embeddings ----------------------------------------------------------------------------

  embeddings <- function(view) {
    obj <- view$obj
    out <- list()
    if (view$kind == "Seurat") {
      reductions <- methods::slot(obj, "reductions")
      for (name in names(reductions)) {
        out[[name]] <- methods::slot(reductions[[name]], "cell.embeddings")
      }
    } else {
      for (name in SingleCellExperiment::reducedDimNames(obj)) {
        out[[name]] <- SingleCellExperiment::reducedDim(obj, name, withDimnames = TRUE)
      }
    }
    Filter(function(e) length(dim(e)) == 2L && ncol(e) >= 2L, out)
  }

  # -- stored marker tables (FindAllMarkers output) ------------------------------------------

  is_marker_table <- function(x) {
    is.data.frame(x) && all(c("cluster", "gene", "p_val_adj") %in% names(x)) &&
      any(c("avg_log2FC", "avg_logFC") %in% names(x))
  }

  marker_tables <- function() {
    out <- list()
    for (name in ls(globalenv())) {
      x <- get0(name, envir = globalenv(), inherits = FALSE)
      if (is_marker_table(x)) out[[name]] <- x
    }
    out
  }

  marker_groups <- function(table) {
    cluster <- table[["cluster"]]
    present <- unique(as.character(cluster[!is.na(cluster)]))
    if (is.factor(cluster)) {
      return(intersect(levels(cluster), present))
    }
    as_categorical(present)$categories
  }

  # The metadata column a marker table was computed for: its categories equal the table's
  # cluster levels (FindAllMarkers keeps every identity level) or, for a table whose cluster
  # column is no longer a factor (e.g. read back from CSV), include its clusters. Several
  # candidates: the one equal to the object's identities (what FindAllMarkers used).
  marker_groupby <- function(view, table) {
    cluster <- table[["cluster"]]
    wanted <- if (is.factor(cluster)) levels(cluster) else marker_groups(table)
    candidates <- character(0)
    for (name in view$obs_names) {
      v <- view$obs(name)
      if (column_kind(v) != "categorical") next
      categories <- as_categorical(v)$categories
      matches <- if (is.factor(cluster)) {
        setequal(categories, wanted)
      } else {
        all(wanted %in% categories)
      }
      if (matches) candidates <- c(candidates, name)
    }
    if (length(candidates) == 0L) {
      return(NULL_JSON)
    }
    if (view$kind == "Seurat" && length(candidates) > 1L) {
      idents <- as.character(methods::slot(view$obj, "active.ident"))
      for (name in candidates) {
        if (identical(as.character(view$obs(name)), idents)) {
          return(name)
        }
      }
    }
    candidates[1L]
  }

  # -- fingerprint ---------------------------------------------------------------------------
  # Structure plus a strided sample of the stored values: changes when the object is replaced
  # (different content), re-normalised, subset, or gains assays, layers, metadata columns,
  # reductions or marker tables. In-place edits of single values can go unnoticed, as for
  # AnnData (docs/protocol.md, "Staleness").

  # About a thousand evenly spaced values (digest hashes them with the rest).
  sampled <- function(x) {
    n <- length(x)
    if (n == 0L) {
      return(0L)
    }
    list(n, x[unique(round(seq(1, n, length.out = min(n, 1009L))))])
  }

  matrix_token <- function(m) {
    token <- list(class(m)[1L], dim(m), sampled(rownames(m)), sampled(colnames(m)))
    if (methods::is(m, "CsparseMatrix")) {
      token <- c(token, list(sampled(methods::slot(m, "x")), sampled(methods::slot(m, "i"))))
    } else if (is.matrix(m)) {
      token <- c(token, list(sampled(m)))
    }
    token
  }

  fingerprint <- function(view) {
    obj <- view$obj
    tokens <- list(view$kind, length(view$cells), sampled(view$cells), sampled(view$genes))
    for (entry in matrices(view)) {
      tokens[[length(tokens) + 1L]] <- entry$id
      for (part in entry$parts()) {
        tokens[[length(tokens) + 1L]] <- matrix_token(part$m)
        tokens[[length(tokens) + 1L]] <- sampled(part$cells)
      }
    }
    for (name in view$obs_names) {
      v <- view$obs(name)
      token <- list(name, class(v))
      if (is.factor(v)) {
        # Every code counts here (cheap, vectorised): re-clustering must change the token.
        codes <- as.integer(v)
        weights <- seq_along(codes) %% 9973L + 1
        token <- c(token, list(levels(v), sum(as.double(codes) * weights, na.rm = TRUE)))
      } else if (is_plain_vector(v)) {
        token <- c(token, list(sampled(v)))
      }
      tokens[[length(tokens) + 1L]] <- token
    }
    emb <- embeddings(view)
    for (name in names(emb)) {
      tokens[[length(tokens) + 1L]] <- list(name, matrix_token(emb[[name]]))
    }
    tables <- marker_tables()
    for (name in names(tables)) {
      table <- tables[[name]]
      tokens[[length(tokens) + 1L]] <- list(name, nrow(table), sampled(table[["gene"]]))
    }
    if (view$kind == "Seurat") {
      tokens[[length(tokens) + 1L]] <- sampled(methods::slot(obj, "active.ident"))
    }
    digest::digest(tokens, algo = "xxhash64")
  }

  # -- payload columns -----------------------------------------------------------------------
  # A column spec: list(name, type, values[, categories]); see docs/protocol.md.

  column <- function(name, type, values, categories = NULL) {
    list(name = name, type = type, values = values, categories = categories)
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
      guesses = list(
        dataset = guess(obs, DATASET_NAMES, 2L), cluster = guess(obs, CLUSTER_NAMES, 1L)
      ),
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
    values <- read_genes(entry$parts(), found, cells)
    reasons <- character(0)
    for (gene in genes[!in_matrix]) reasons[[gene]] <- "not_in_matrix"
    columns <- list()
    for (k in seq_along(found)) {
      v <- values[, k]
      # How integrated assays mark genes they do not hold (e.g. a v5 layer): report, not plot.
      if (n_obs > 0L && all(is.na(v))) {
        reasons[[found[k]]] <- "all_nan"
      } else {
        columns[[length(columns) + 1L]] <- column(paste0("gene:", found[k]), "float32", v)
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

  # Per non-empty group (of one column or the crossing of two) and in total: sum, sum of
  # squares and count of values > 0 for every gene, accumulated in double precision, part by
  # part (v5 split layers hold disjoint cells, so their sums add up).
  # Groups of one obs column or the crossing of two (the first outermost), non-empty ones in
  # category order, as Python's: each cell's group (1-based, NA without a label) and the
  # groups' labels and sizes.
  stat_groups <- function(view, groupby) {
    if (!length(groupby) %in% 1:2 || anyDuplicated(groupby)) {
      bad_argument("groupby", "a list of one or two distinct obs column names")
    }
    cats <- lapply(groupby, function(column) {
      cat <- as_categorical(obs_column(view, column))
      used <- sort(unique(cat$codes[cat$codes >= 0L]))
      if (length(used) > MAX_STAT_GROUPS) {
        too_many_groups(length(used), sprintf("Column %s has", quoted(column)))
      }
      list(codes = match(cat$codes, used) - 1L, categories = cat$categories[used + 1L])
    })
    codes <- cats[[1L]]$codes
    n_combined <- length(cats[[1L]]$categories)
    if (length(cats) == 2L) {
      n2 <- length(cats[[2L]]$categories)
      codes <- codes * n2 + cats[[2L]]$codes
      codes[is.na(cats[[2L]]$codes) | is.na(cats[[1L]]$codes)] <- NA
      n_combined <- n_combined * n2
    }
    counts <- tabulate(codes + 1L, nbins = n_combined)
    observed <- which(counts > 0L)
    if (length(observed) > MAX_STAT_GROUPS) too_many_groups(length(observed), "The grouping has")
    groups <- lapply(observed, function(code) {
      zero <- code - 1L
      labels <- if (length(cats) == 2L) {
        n2 <- length(cats[[2L]]$categories)
        c(cats[[1L]]$categories[zero %/% n2 + 1L], cats[[2L]]$categories[zero %% n2 + 1L])
      } else {
        cats[[1L]]$categories[zero + 1L]
      }
      list(labels = I(labels), n = counts[code])
    })
    list(group_of_cell = match(codes + 1L, observed), groups = groups, n_groups = length(observed))
  }

  # describe's execution: where plots of this object should be computed (as Python's).
  execution_of <- function(view) {
    n <- length(view$cells)
    count <- function(x) formatC(x, format = "d", big.mark = ",")
    if (n > KERNEL_PATH_MIN_CELLS) {
      list(path = "kernel", reason = sprintf(
        paste(
          "%s cells (more than %s): per-group statistics are computed in the kernel",
          "instead of sending cells."
        ),
        count(n), count(KERNEL_PATH_MIN_CELLS)
      ))
    } else {
      list(path = "browser", reason = sprintf(
        "In memory, %s cells: cells are sent to the browser.", count(n)
      ))
    }
  }

  op_group_stats <- function(args) {
    name <- str_arg(args, "object")
    matrix_id <- str_arg(args, "matrix")
    groupby <- str_list_arg(args, "groupby")
    # Genes: the heatmap's kernel path asks for its own; without them, every gene.
    requested <- !is.null(args[["genes"]])
    genes <- unique(str_list_arg(args, "genes", optional = TRUE))
    expm1 <- bool_arg(args, "expm1")
    view <- lookup(name)
    entry <- find_matrix(view, matrix_id)
    grouping <- stat_groups(view, groupby)
    group_of_cell <- grouping$group_of_cell

    cells <- view$cells
    features <- if (requested) genes[genes %in% entry$features] else entry$features
    missing <- if (requested) genes[!genes %in% entry$features] else character(0)
    n_genes <- length(features)
    n_groups <- grouping$n_groups
    sums <- sumsqs <- nnzs <- matrix(0, n_genes, n_groups)
    sumexpm1s <- if (expm1) matrix(0, n_genes, n_groups)
    total_sum <- total_sumsq <- numeric(n_genes)
    with_nan <- rep(FALSE, n_genes)
    negative <- rep(FALSE, n_genes)
    for (part in entry$parts()) {
      rows <- match(part$features, features)
      m <- part$m
      if (requested) {
        held <- which(!is.na(rows))
        m <- m[held, , drop = FALSE]
        rows <- rows[held]
      }
      at <- match(part$cells, cells)
      if (!is.matrix(m) && !methods::is(m, "CsparseMatrix")) m <- methods::as(m, "CsparseMatrix")
      in_object <- !is.na(at)
      group <- rep(NA_integer_, length(at))
      group[in_object] <- group_of_cell[at[in_object]]
      labelled <- which(!is.na(group))
      indicator <- Matrix::sparseMatrix(
        i = labelled, j = group[labelled], x = 1, dims = c(length(at), n_groups)
      )
      everyone <- Matrix::sparseMatrix(
        i = which(in_object), j = rep(1L, sum(in_object)), x = 1, dims = c(length(at), 1L)
      )
      if (is.matrix(m)) {
        squares <- m * m
        positive <- (m > 0) * 1
        neg_rows <- which(rowSums(m < 0, na.rm = TRUE) > 0)
        linear <- if (expm1) base::expm1(m)
      } else {
        squares <- m
        squares@x <- squares@x^2
        positive <- m
        positive@x <- as.double(positive@x > 0)
        neg_rows <- unique(m@i[which(m@x < 0)]) + 1L
        linear <- if (expm1) {
          e <- m
          e@x <- base::expm1(e@x) # expm1(0) = 0: the zeros stay implicit
          e
        }
      }
      # Genes that a part does not hold are NaN for its cells, hence excluded below.
      with_nan[setdiff(seq_len(n_genes), rows)] <- TRUE
      part_sum <- as.matrix(m %*% everyone)[, 1L]
      with_nan[rows[is.na(part_sum)]] <- TRUE
      negative[rows[neg_rows]] <- TRUE
      sums[rows, ] <- sums[rows, ] + as.matrix(m %*% indicator)
      sumsqs[rows, ] <- sumsqs[rows, ] + as.matrix(squares %*% indicator)
      nnzs[rows, ] <- nnzs[rows, ] + as.matrix(positive %*% indicator)
      if (expm1) sumexpm1s[rows, ] <- sumexpm1s[rows, ] + as.matrix(linear %*% indicator)
      total_sum[rows] <- total_sum[rows] + part_sum
      total_sumsq[rows] <- total_sumsq[rows] + as.matrix(squares %*% everyone)[, 1L]
    }
    kept <- which(!with_nan)
    if (n_groups * length(kept) > MAX_GROUP_STATS_VALUES) {
      protocol_error(
        "too_large",
        sprintf(
          paste(
            "%d groups x %d genes is more statistics than one reply carries",
            "(%d group x gene values); group by fewer categories."
          ),
          n_groups, length(kept), as.integer(MAX_GROUP_STATS_VALUES)
        ),
        list(
          groups = n_groups, genes = length(kept),
          max_values = as.integer(MAX_GROUP_STATS_VALUES)
        )
      )
    }
    columns <- list(column("gene", "utf8", features[kept]))
    for (g in seq_len(n_groups)) {
      i <- g - 1L
      columns[[length(columns) + 1L]] <- column(sprintf("sum:%d", i), "float64", sums[kept, g])
      columns[[length(columns) + 1L]] <- column(sprintf("sumsq:%d", i), "float64", sumsqs[kept, g])
      columns[[length(columns) + 1L]] <- column(sprintf("nnz:%d", i), "float64", nnzs[kept, g])
      if (expm1) {
        columns[[length(columns) + 1L]] <- column(
          sprintf("sumexpm1:%d", i), "float64", sumexpm1s[kept, g]
        )
      }
    }
    columns[[length(columns) + 1L]] <- column("total_sum", "float64", total_sum[kept])
    columns[[length(columns) + 1L]] <- column("total_sumsq", "float64", total_sumsq[kept])

    result <- list(
      matrix = matrix_id, groupby = I(groupby), groups = grouping$groups,
      n_cells_total = length(cells), n_genes = length(kept),
      excluded_genes = I(features[with_nan]), has_negative = any(negative[kept]),
      log1p_base = NULL_JSON, expm1 = expm1, fingerprint = fingerprint(view)
    )
    if (requested) result$missing <- I(missing)
    list(result = result, columns = columns)
  }

  # -- pair_stats: two genes' correlations per group (exprscope/compute/correlation.py's) --

  undefined_reason <- function(x, y) {
    if (length(x) < MIN_CORRELATION_CELLS) {
      return(sprintf("fewer than %d cells", MIN_CORRELATION_CELLS))
    }
    constant_x <- all(x == x[1L])
    constant_y <- all(y == y[1L])
    if (constant_x && constant_y) {
      return("both genes are constant")
    }
    if (constant_x || constant_y) {
      return(sprintf("%s gene is constant", if (constant_x) "x" else "y"))
    }
    NA_character_
  }

  centred_correlation <- function(x, y) {
    dx <- x - mean(x)
    dy <- y - mean(y)
    max(-1, min(1, sum(dx * dy) / sqrt(sum(dx * dx) * sum(dy * dy))))
  }

  # Two-sided p-value of a correlation: I_{1-r^2}((n - 2) / 2, 1/2), as scipy's.
  correlation_p_value <- function(r, n) {
    if (is.na(r) || n < MIN_CORRELATION_CELLS) {
      return(NaN)
    }
    stats::pbeta((1 - r) * (1 + r), (n - 2) / 2, 0.5)
  }

  # Fisher-z 95% interval of Pearson's r (scipy's confidence_interval()).
  fisher_interval <- function(r, n) {
    if (n <= 3L) {
      return(c(-1, 1))
    }
    half <- stats::qnorm(0.975) * sqrt(1 / (n - 3))
    z <- suppressWarnings(atanh(r)) # +-Inf for r = +-1: the interval collapses to r
    c(tanh(z - half), tanh(z + half))
  }

  # A seeded sample of k of 1..n, leaving the user's random number stream as it was.
  seeded_sample <- function(n, k, seed) {
    env <- globalenv()
    had <- exists(".Random.seed", envir = env, inherits = FALSE)
    old <- if (had) get(".Random.seed", envir = env, inherits = FALSE)
    on.exit(
      if (had) assign(".Random.seed", old, envir = env) else rm(".Random.seed", envir = env)
    )
    set.seed(seed)
    sort(sample.int(n, k))
  }

  op_pair_stats <- function(args) {
    name <- str_arg(args, "object")
    matrix_id <- str_arg(args, "matrix")
    gene_x <- str_arg(args, "gene_x")
    gene_y <- str_arg(args, "gene_y")
    groupby <- str_list_arg(args, "groupby")
    detected_only <- bool_arg(args, "detected_only")
    spearman <- optional_str_arg(args, "spearman")
    if (is.null(spearman)) spearman <- "exact"
    if (!spearman %in% c("exact", "sample")) bad_argument("spearman", "'exact' or 'sample'")
    max_sample <- int_arg(args, "max_sample", DEFAULT_MAX_SAMPLE, 10L, .Machine$integer.max)
    view <- lookup(name)
    entry <- find_matrix(view, matrix_id)
    grouping <- stat_groups(view, groupby)
    genes <- c(gene_x, gene_y)
    reasons <- list()
    for (gene in unique(genes[!genes %in% entry$features])) reasons[[gene]] <- "not_in_matrix"
    values <- NULL
    if (length(reasons) == 0L) {
      values <- read_genes(entry$parts(), unique(genes), view$cells)
      for (i in seq_along(unique(genes))) {
        nan <- is.na(values[, i])
        if (any(nan)) reasons[[unique(genes)[i]]] <- if (all(nan)) "all_nan" else "has_nan"
      }
      values <- values[, match(genes, unique(genes)), drop = FALSE]
    }
    missing <- unique(genes)[unique(genes) %in% names(reasons)]
    result <- list(
      matrix = matrix_id, gene_x = gene_x, gene_y = gene_y, groupby = I(groupby),
      groups = grouping$groups, n_cells_total = length(view$cells),
      detected_only = detected_only, spearman = spearman, max_sample = max_sample,
      spearman_sampled = FALSE, missing = I(missing),
      missing_reason = if (length(reasons)) reasons else EMPTY_OBJECT,
      engine = "R", fingerprint = fingerprint(view)
    )
    if (length(reasons) > 0L) {
      return(list(result = result))
    }
    n_groups <- grouping$n_groups
    numeric_columns <- c(
      "sum_x", "sum_y", "sumsq_x", "sumsq_y", "sum_xy", "pearson_r", "pearson_ci_low",
      "pearson_ci_high", "pearson_p", "spearman_rho", "spearman_p"
    )
    out <- lapply(stats::setNames(numeric_columns, numeric_columns), function(.) {
      rep(NaN, n_groups)
    })
    n_cells <- n_used <- n_both <- spearman_n <- integer(n_groups)
    reason <- rep(NA_character_, n_groups)
    # Cells of each group, in cell order
    members <- split(seq_along(grouping$group_of_cell), factor(
      grouping$group_of_cell,
      levels = seq_len(n_groups)
    ))
    for (g in seq_len(n_groups)) {
      cells <- members[[g]]
      gx <- values[cells, 1L]
      gy <- values[cells, 2L]
      both <- gx > 0 & gy > 0
      n_cells[g] <- length(cells)
      n_both[g] <- sum(both)
      if (detected_only) {
        gx <- gx[both]
        gy <- gy[both]
      }
      n <- length(gx)
      n_used[g] <- n
      out$sum_x[g] <- sum(gx)
      out$sum_y[g] <- sum(gy)
      out$sumsq_x[g] <- sum(gx * gx)
      out$sumsq_y[g] <- sum(gy * gy)
      out$sum_xy[g] <- sum(gx * gy)
      reason[g] <- undefined_reason(gx, gy)
      spearman_n[g] <- n
      if (is.na(reason[g])) {
        r <- centred_correlation(gx, gy)
        ci <- fisher_interval(r, n)
        out$pearson_r[g] <- r
        out$pearson_ci_low[g] <- ci[1L]
        out$pearson_ci_high[g] <- ci[2L]
        sx <- gx
        sy <- gy
        if (spearman == "sample" && n > max_sample) {
          pick <- seeded_sample(n, max_sample, SAMPLE_SEED + g - 1L)
          sx <- gx[pick]
          sy <- gy[pick]
          spearman_n[g] <- max_sample
          result$spearman_sampled <- TRUE
        }
        if (is.na(undefined_reason(sx, sy))) {
          out$spearman_rho[g] <- centred_correlation(rank(sx), rank(sy))
        }
      }
      out$pearson_p[g] <- correlation_p_value(out$pearson_r[g], n)
      out$spearman_p[g] <- correlation_p_value(out$spearman_rho[g], spearman_n[g])
    }
    columns <- list(
      column("group", "int32", seq_len(n_groups) - 1L),
      column("n_cells", "int32", n_cells),
      column("n", "int32", n_used)
    )
    for (name in numeric_columns[1:5]) {
      columns[[length(columns) + 1L]] <- column(name, "float64", out[[name]])
    }
    columns[[length(columns) + 1L]] <- column("n_both_positive", "int32", n_both)
    for (name in numeric_columns[6:11]) {
      columns[[length(columns) + 1L]] <- column(name, "float64", out[[name]])
    }
    columns[[length(columns) + 1L]] <- column("spearman_n", "int32", spearman_n)
    columns[[length(columns) + 1L]] <- column("reason", "utf8", reason)
    list(result = result, columns = columns)
  }

  too_many_groups <- function(n, what) {
    protocol_error(
      "too_large",
      sprintf("%s %d groups; group statistics are limited to %d.", what, n, MAX_STAT_GROUPS),
      list(groups = n, max_groups = MAX_STAT_GROUPS)
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

  # -- dispatch and replies ------------------------------------------------------------------

  parse_request <- function(request) {
    if (!is_json_object(request)) protocol_error("bad_request", "A request must be a JSON object.")
    if (is.na(request_id(request))[1L]) {
      protocol_error("bad_request", "The request has no 'id' (a string).")
    }
    op <- request[["op"]]
    if (!is_string(op)) protocol_error("bad_request", "The request has no 'op' (a string).")
    if (!op %in% names(OPS)) {
      protocol_error(
        "unknown_op",
        sprintf("Unknown op %s; known: %s.", quoted(op), paste(names(OPS), collapse = ", ")),
        list(op = op)
      )
    }
    args <- request[["args"]]
    if (is.null(args)) args <- list()
    if (!is_json_object(args)) bad_argument("args", "an object")
    list(op = op, args = args)
  }

  format_calls <- function(calls) {
    lines <- vapply(calls, function(call) {
      paste(deparse(call, width.cutoff = 200L, nlines = 1L), collapse = "")
    }, "")
    paste(utils::tail(lines, 25L), collapse = NEWLINE)
  }

  error_reply <- function(id, code, message, details = NULL) {
    # Messages quote what was sent (e.g. a 100k-character name): keep both ends, as Python.
    if (nchar(message) > MAX_MESSAGE_CHARS) {
      message <- paste(
        substr(message, 1L, 600L),
        substr(message, nchar(message) - 299L, nchar(message)),
        sep = " … "
      )
    }
    error <- list(code = code, message = message)
    if (length(details)) error$details <- details
    list(id = id, ok = FALSE, error = error)
  }

  # Answer one request with exactly one reply, whatever happens.
  handle <- function(comm, request) {
    id <- request_id(request)
    calls <- NULL
    outcome <- tryCatch(
      withCallingHandlers(
        {
          parsed <- parse_request(request)
          answer <- OPS[[parsed$op]](parsed$args)
          if (!is.null(answer$columns)) {
            encoded <- encode_columns(answer$columns)
            answer$result$payload <- "columns"
            answer$result$columns <- encoded$descriptors
            answer$bytes <- encoded$bytes
          }
          # A result that cannot be serialised must become an error reply here.
          jsonlite::toJSON(answer$result, auto_unbox = TRUE)
          answer
        },
        warning = function(w) invokeRestart("muffleWarning"),
        error = function(e) if (!inherits(e, "exprscope_error")) calls <<- sys.calls()
      ),
      exprscope_error = function(e) error_reply(id, e$code, conditionMessage(e), e$details),
      error = function(e) {
        error_reply(
          id, "internal", paste0(class(e)[1L], ": ", conditionMessage(e)),
          list(traceback = format_calls(calls))
        )
      }
    )
    if (!is.null(outcome[["error"]])) {
      comm$send(outcome)
      return(invisible())
    }
    if (is.null(outcome$bytes)) {
      comm$send(list(id = id, ok = TRUE, part = 0L, parts = 1L, result = outcome$result))
      return(invisible())
    }
    bytes <- outcome$bytes
    starts <- seq(1, max(length(bytes), 1), by = MAX_CHUNK_BYTES)
    for (part in seq_along(starts)) {
      end <- min(length(bytes), starts[part] + MAX_CHUNK_BYTES - 1)
      slice <- if (length(bytes)) bytes[starts[part]:end] else raw(0)
      message <- list(id = id, ok = TRUE, part = part - 1L, parts = length(starts))
      if (part == 1L) message$result <- outcome$result
      # jsonlite wraps base64 lines; the newlines are only bulk.
      message$b64 <- gsub(NEWLINE, "", jsonlite::base64_enc(slice), fixed = TRUE)
      comm$send(message)
    }
    invisible()
  }

  open_comm <- function(comm, data) {
    comm$on_msg(function(msg) handle(comm, msg))
  }

  # Register the comm target; outside IRkernel (e.g. sourced by tests) do nothing.
  register <- function() {
    manager <- if (isNamespaceLoaded("IRkernel")) IRkernel::comm_manager() else NULL
    if (is.null(manager)) {
      return(invisible(FALSE))
    }
    manager$register_target(TARGET, open_comm)
    invisible(TRUE)
  }

  # -- notebook plots: exprscope_heatmap() and exprscope_dual_expression() --------------------
  # The user-facing functions check their arguments against the object (any mistake stops
  # before anything is displayed), build a plot spec (docs/plot-spec.md) and display it as an
  # application/vnd.exprscope.plot+json output without model_id: the frontend draws the plot
  # on the notebook's kernel from the spec. They live in the environment "exprscope" on the
  # search path (attach_api), not in the global environment.

  API_NAME <- "exprscope"
  PLOT_MIME <- "application/vnd.exprscope.plot+json"
  MAX_TOP_N <- 100L
  GROUP_BYS <- c("dataset", "cluster", "dataset_cluster")
  VALUES <- c("mean", "linear_mean", "fraction", "dot")
  SCALINGS <- c("none", "zscore", "minmax")
  METRICS <- c("euclidean", "correlation")
  COLOR_BYS <- c("dataset", "cluster")
  FACET_BYS <- c("none", "dataset", "cluster", "dataset_cluster")
  DENSITIES <- c("auto", "on", "off")
  MAX_SHOWN <- 10L
  GENE_CHECK_CHUNK <- 50L
  TIMES <- intToUtf8(215L) # the multiplication sign
  MIDDLE_DOT <- intToUtf8(183L)

  usage_error <- function(...) {
    stop(structure(
      class = c("exprscope_usage_error", "error", "condition"),
      list(message = sprintf(...), call = NULL)
    ))
  }

  # Values as R string literals, the first few of them.
  shown <- function(x) {
    text <- encodeString(utils::head(as.character(x), MAX_SHOWN), quote = '"')
    if (length(x) > MAX_SHOWN) text <- c(text, sprintf("... (%d more)", length(x) - MAX_SHOWN))
    paste(text, collapse = ", ")
  }

  # Any R value, shortly, for "not <value>" in messages.
  shown_value <- function(x) {
    if (is.null(x)) {
      return("NULL")
    }
    text <- tryCatch(
      paste(deparse(x, width.cutoff = 60L, nlines = 2L), collapse = " "),
      error = function(e) class(x)[1L]
    )
    if (nchar(text) > 80L) text <- paste0(substr(text, 1L, 77L), "...")
    text
  }

  check_string <- function(value, name, what = "a string", optional = FALSE) {
    if (optional && is.null(value)) {
      return(NULL)
    }
    if (!is_string(value)) {
      usage_error(
        "%s must be %s%s, not %s.", name, what, if (optional) " or NULL" else "",
        shown_value(value)
      )
    }
    value
  }

  check_choice <- function(value, name, options) {
    if (!is_string(value) || !value %in% options) {
      usage_error("%s must be one of %s, not %s.", name, shown(options), shown_value(value))
    }
    value
  }

  check_flag <- function(value, name) {
    if (!is.logical(value) || length(value) != 1L || is.na(value)) {
      usage_error("%s must be TRUE or FALSE, not %s.", name, shown_value(value))
    }
    value
  }

  # A whole number within R's integer range (minimum, maximum: NA for none).
  check_integer <- function(value, name, minimum = NA, maximum = NA) {
    whole <- is.numeric(value) && length(value) == 1L && !is.na(value) &&
      is.finite(value) && value == round(value)
    if (!whole) {
      usage_error("%s must be an integer, not %s.", name, shown_value(value))
    }
    if (abs(value) > .Machine$integer.max) {
      usage_error(
        "%s must be an R integer (from %d to %d), not %s.", name, -.Machine$integer.max,
        .Machine$integer.max, shown_value(value)
      )
    }
    if ((!is.na(minimum) && value < minimum) || (!is.na(maximum) && value > maximum)) {
      bounds <- if (is.na(maximum)) {
        sprintf(">= %d", minimum)
      } else {
        sprintf("from %d to %d", minimum, maximum)
      }
      usage_error("%s must be %s, not %s.", name, bounds, shown_value(value))
    }
    as.integer(value)
  }

  # Text labels: a character vector or factor without NA (numbers too when allow_numbers,
  # whole ones written as integers, as Python's str(3)).
  check_labels <- function(value, name, what, empty, allow_numbers = FALSE) {
    if (is.factor(value)) value <- as.character(value)
    if (allow_numbers && is.numeric(value) && !anyNA(value) && all(is.finite(value)) &&
      all(value == round(value))) {
      value <- format(value, scientific = FALSE, trim = TRUE)
    }
    if (!is.character(value) || !is.null(dim(value)) || anyNA(value)) {
      usage_error("%s must be %s, not %s.", name, what, shown_value(value))
    }
    if (length(value) == 0L) {
      usage_error("%s is empty: give %s.", name, empty)
    }
    unique(as.vector(value))
  }

  # The global variable an argument names: a plain name, or get("name", envir = globalenv())
  # (what the generated code writes for names that are not syntactic).
  argument_name <- function(expr) {
    if (is.name(expr)) {
      return(as.character(expr))
    }
    if (is.call(expr) && (identical(expr[[1L]], as.name("get")) ||
      identical(expr[[1L]], quote(base::get)))) {
      matched <- tryCatch(match.call(base::get, expr), error = function(e) NULL)
      if (!is.null(matched) && is_string(matched$x)) {
        return(matched$x)
      }
    }
    NULL
  }

  # The view of the object passed as 'object', after checking that it is the global variable
  # its name says (the spec names it; the frontend reads it by that name).
  user_object <- function(expr, value_of, fn) {
    if (is.null(expr)) {
      usage_error(
        "object is missing: give a Seurat or SingleCellExperiment variable, e.g. %s(pbmc, ...).",
        fn
      )
    }
    name <- argument_name(expr)
    if (is.null(name) || !nzchar(name)) {
      usage_error(
        paste(
          "object must be a Seurat or SingleCellExperiment variable of the global",
          "environment, by name (e.g. %s(pbmc, ...)), not the expression %s."
        ),
        fn, shown_value(expr)
      )
    }
    if (startsWith(name, ".")) {
      usage_error(
        paste(
          "object: %s starts with a dot; exprscope does not read hidden variables.",
          "Assign it to a name without one."
        ),
        shown(name)
      )
    }
    if (!exists(name, envir = globalenv(), inherits = FALSE)) {
      usage_error(
        paste(
          "object: there is no variable %s in the global environment (exprscope reads",
          "objects by their global name)."
        ),
        shown(name)
      )
    }
    obj <- get(name, envir = globalenv(), inherits = FALSE)
    if (!identical(value_of(), obj)) {
      usage_error(
        paste(
          "object: %s here is not the global variable %s (exprscope reads objects by",
          "their global name)."
        ),
        shown(name), shown(name)
      )
    }
    kind <- object_kind(obj)
    if (is.null(kind)) {
      usage_error(
        "object: %s is a %s; exprscope reads Seurat and SingleCellExperiment objects.",
        shown(name), class(obj)[1L]
      )
    }
    view <- make_view(obj, kind)
    view$name <- name
    view
  }

  user_matrix <- function(view, matrix) {
    entries <- matrices(view)
    ids <- vapply(entries, function(e) e$id, "")
    if (length(entries) == 0L) {
      usage_error("object: %s holds no expression matrix.", shown(view$name))
    }
    if (is.null(matrix)) {
      return(entries[[1L]])
    }
    check_string(matrix, "matrix", 'a matrix id such as "RNA/data"', optional = TRUE)
    if (!matrix %in% ids) {
      usage_error(
        "matrix = %s is not a matrix of %s; it has %s.", shown(matrix), shown(view$name),
        shown(ids)
      )
    }
    entries[[match(matrix, ids)]]
  }

  # The dataset and cluster columns: the given ones (categorical metadata columns) or the
  # sidebar's guesses.
  user_columns <- function(view, dataset_key, cluster_key) {
    obs <- describe_obs(view)
    kinds <- vapply(obs, function(column) column$kind, "")
    out <- list()
    for (role in c("dataset", "cluster")) {
      name <- paste0(role, "_key")
      given <- check_string(
        if (role == "dataset") dataset_key else cluster_key, name, "a metadata column name",
        optional = TRUE
      )
      if (is.null(given)) {
        out[[role]] <- guess(obs, if (role == "dataset") DATASET_NAMES else CLUSTER_NAMES,
          if (role == "dataset") 2L else 1L)
        next
      }
      if (!given %in% view$obs_names) {
        usage_error(
          "%s = %s is not a cell metadata column of %s; its columns are %s.", name,
          shown(given), shown(view$name), shown(view$obs_names)
        )
      }
      if (kinds[[match(given, view$obs_names)]] != "categorical") {
        usage_error(
          paste(
            "%s = %s is not a grouping column (it has too many distinct values or is not",
            "categorical); choose a categorical metadata column."
          ),
          name, shown(given)
        )
      }
      out[[role]] <- given
    }
    out
  }

  # Which grouping roles a spec cannot do without (plot_data.needed_columns).
  require_columns <- function(uses, columns, clusters, markers = FALSE) {
    needed <- list()
    if (markers) needed$cluster <- "Top markers per cluster"
    for (what in names(uses)) {
      grouping <- uses[[what]]
      for (role in c("dataset", "cluster")) {
        if (grouping %in% c(role, "dataset_cluster") && is.null(needed[[role]])) {
          needed[[role]] <- sprintf("%s by %s", what, grouping)
        }
      }
    }
    if (!is.null(clusters) && is.null(needed$cluster)) {
      needed$cluster <- "Keeping only some clusters"
    }
    for (role in names(needed)) {
      if (is.na(columns[[role]])[1L]) {
        usage_error(
          paste(
            "%s needs a %s column, but %s_key is not set and none of the usual column names",
            "was found; pass %s_key = <metadata column>."
          ),
          needed[[role]], role, role, role
        )
      }
    }
  }

  user_clusters <- function(view, clusters, cluster_column) {
    if (is.null(clusters)) {
      return(NULL)
    }
    labels <- check_labels(
      clusters, "clusters", "a vector of cluster labels (character, factor or whole numbers)",
      "at least one cluster, or NULL for all", allow_numbers = TRUE
    )
    if (is.na(cluster_column)[1L]) {
      return(labels) # reported by require_columns
    }
    known <- as_categorical(view$obs(cluster_column))$categories
    unknown <- setdiff(labels, known)
    if (length(unknown)) {
      usage_error(
        "Unknown cluster(s) in clusters: %s; clusters of %s are %s.", shown(unknown),
        shown(cluster_column), shown(known)
      )
    }
    labels
  }

  # Genes the matrix does not hold: not among its features, or NaN in every cell (genes
  # outside an integrated assay), as fetch reports them.
  check_genes <- function(view, entry, genes, name) {
    missing <- genes[!genes %in% entry$features]
    found <- setdiff(genes, missing)
    n_cells <- length(view$cells)
    if (length(found) && n_cells > 0L) {
      parts <- entry$parts()
      for (start in seq(1L, length(found), by = GENE_CHECK_CHUNK)) {
        chunk <- found[start:min(length(found), start + GENE_CHECK_CHUNK - 1L)]
        values <- read_genes(parts, chunk, view$cells)
        missing <- c(missing, chunk[colSums(!is.na(values)) == 0L])
      }
    }
    if (length(missing)) {
      usage_error(
        paste(
          "Unknown gene(s) in %s: %s; not in matrix %s of %s (not among its genes, or NaN",
          "there, as genes outside an integrated assay)."
        ),
        name, shown(genes[genes %in% missing]), shown(entry$id), shown(view$name)
      )
    }
  }

  # A number as the JSON of the display message carries it (IRkernel's jsonlite writes at
  # most 4 decimals), so the returned spec equals the displayed one.
  as_written <- function(x) jsonlite::fromJSON(jsonlite::toJSON(x, digits = 4L))

  null_or <- function(x, f = identity) if (is.null(x)) NULL_JSON else f(x)

  common_spec <- function(kind, view, entry, columns, clusters) {
    list(
      exprscope_spec = 1L, kind = kind, version = VERSION, object = view$name,
      matrix = entry$id, dataset_column = columns$dataset, cluster_column = columns$cluster,
      clusters = null_or(clusters, I)
    )
  }

  count_text <- function(n, noun) sprintf("%d %s%s", n, noun, if (n == 1L) "" else "s")

  # The heatmap's columns: categories with kept cells (all dataset x cluster combinations of
  # present ones), as plot_data.heatmap_columns counts them.
  n_heatmap_columns <- function(view, spec) {
    present <- function(column, keep) {
      cat <- as_categorical(view$obs(column))
      length(unique(cat$codes[keep & cat$codes >= 0L]))
    }
    keep <- rep(TRUE, length(view$cells))
    if (!is.na(spec$clusters)[1L]) {
      cat <- as_categorical(view$obs(spec$cluster_column))
      keep <- cat$categories[cat$codes + 1L] %in% spec$clusters & cat$codes >= 0L
    }
    switch(spec$group_by,
      dataset = present(spec$dataset_column, keep),
      cluster = present(spec$cluster_column, keep),
      dataset_cluster = present(spec$dataset_column, keep) * present(spec$cluster_column, keep)
    )
  }

  display_spec <- function(spec, text) {
    bundle <- list(text, list(spec = spec, version = VERSION))
    names(bundle) <- c("text/plain", PLOT_MIME)
    if (is.null(getOption("jupyter.base_display_func"))) {
      warning("Not in a Jupyter notebook (IRkernel): nothing displayed; the plot spec is returned.",
        call. = FALSE)
    } else {
      IRdisplay::publish_mimebundle(bundle)
    }
    invisible(spec)
  }

  # Runs a user function's checks; their errors are raised from the user's call.
  as_user_call <- function(call, expr) {
    tryCatch(expr, exprscope_usage_error = function(e) {
      stop(simpleError(conditionMessage(e), call))
    })
  }

  heatmap_spec <- function(view_of, genes, top_n, groupby, dataset_key, cluster_key, matrix,
                           clusters, value, scale, zscore_clip, min_cells, cluster_genes,
                           cluster_columns, metric) {
    view <- view_of()
    if (!is.null(genes) && !is.null(top_n)) {
      usage_error("Give either genes or top_n (top markers per cluster), not both.")
    }
    if (!is.null(genes)) {
      genes <- check_labels(
        genes, "genes", "a gene name or a character vector of gene names",
        "at least one gene, or NULL for the top markers"
      )
    }
    top_n <- check_integer(if (is.null(top_n)) 10L else top_n, "top_n", 1L, MAX_TOP_N)
    check_choice(groupby, "groupby", GROUP_BYS)
    check_choice(value, "value", VALUES)
    check_choice(scale, "scale", SCALINGS)
    check_choice(metric, "metric", METRICS)
    if (!is.numeric(zscore_clip) || length(zscore_clip) != 1L || !is.finite(zscore_clip)) {
      usage_error(
        "zscore_clip must be a finite number (<= 0: no clipping), not %s.",
        shown_value(zscore_clip)
      )
    }
    min_cells <- check_integer(min_cells, "min_cells", 0L)
    check_flag(cluster_genes, "cluster_genes")
    check_flag(cluster_columns, "cluster_columns")
    entry <- user_matrix(view, matrix)
    columns <- user_columns(view, dataset_key, cluster_key)
    require_columns(list(Columns = groupby), columns, clusters, markers = is.null(genes))
    clusters <- user_clusters(view, clusters, columns$cluster)
    if (!is.null(genes)) check_genes(view, entry, genes, "genes")
    spec <- c(common_spec("heatmap", view, entry, columns, clusters), list(
      gene_source = if (is.null(genes)) "markers" else "selected",
      genes = I(if (is.null(genes)) character(0) else genes), top_n = top_n,
      group_by = groupby, value = value, scaling = scale,
      zscore_clip = as_written(as.double(zscore_clip)), min_cells = min_cells,
      cluster_genes = cluster_genes, cluster_columns = cluster_columns, metric = metric
    ))
    rows <- if (is.null(genes)) {
      sprintf("top %d markers per cluster", top_n)
    } else {
      count_text(length(genes), "gene")
    }
    noun <- switch(groupby,
      cluster = "cluster", dataset = "dataset",
      dataset_cluster = paste("dataset", MIDDLE_DOT, "cluster column")
    )
    text <- sprintf(
      "exprscope heatmap: %s %s %s of %s (%s)", rows, TIMES,
      count_text(n_heatmap_columns(view, spec), noun), view$name, entry$label
    )
    display_spec(spec, text)
  }

  dual_spec <- function(view_of, gene_x, gene_y, color_by, facet_by, dataset_key, cluster_key,
                        matrix, clusters, detected_only, jitter, density, marginals, n_boot,
                        seed, embedding) {
    view <- view_of()
    check_string(gene_x, "gene_x", "a gene name (a string)")
    check_string(gene_y, "gene_y", "a gene name (a string)")
    check_choice(color_by, "color_by", COLOR_BYS)
    check_choice(facet_by, "facet_by", FACET_BYS)
    check_choice(density, "density", DENSITIES)
    check_flag(detected_only, "detected_only")
    check_flag(jitter, "jitter")
    check_flag(marginals, "marginals")
    n_boot <- check_integer(n_boot, "n_boot", 0L)
    seed <- check_integer(seed, "seed")
    check_string(embedding, "embedding", "a reduction name (a string)", optional = TRUE)
    entry <- user_matrix(view, matrix)
    columns <- user_columns(view, dataset_key, cluster_key)
    require_columns(list(Colour = color_by, Facets = facet_by), columns, clusters)
    clusters <- user_clusters(view, clusters, columns$cluster)
    check_genes(view, entry, gene_x, "gene_x")
    check_genes(view, entry, gene_y, "gene_y")
    if (!is.null(embedding)) {
      available <- names(embeddings(view))
      if (!embedding %in% available) {
        usage_error(
          paste(
            "embedding = %s is not an embedding of %s (a reduction with at least 2",
            "dimensions); available: %s."
          ),
          shown(embedding), shown(view$name), if (length(available)) shown(available) else "none"
        )
      }
    }
    spec <- c(common_spec("dual_expression", view, entry, columns, clusters), list(
      gene_x = gene_x, gene_y = gene_y, color_by = color_by, facet_by = facet_by,
      detected_only = detected_only, jitter = jitter, density = density,
      marginals = marginals, n_boot = n_boot, seed = seed, embedding = null_or(embedding)
    ))
    grouping <- if (facet_by != "none") facet_by else color_by
    text <- sprintf(
      "exprscope dual expression: %s vs %s by %s of %s (%s)", gene_x, gene_y,
      gsub("_", paste0(" ", MIDDLE_DOT, " "), grouping, fixed = TRUE), view$name, entry$label
    )
    display_spec(spec, text)
  }

  user_heatmap <- function(object, genes = NULL, top_n = NULL, groupby = "cluster",
                           dataset_key = NULL, cluster_key = NULL, matrix = NULL,
                           clusters = NULL, value = "mean", scale = "zscore",
                           zscore_clip = 2.5, min_cells = 10, cluster_genes = FALSE,
                           cluster_columns = FALSE, metric = "euclidean") {
    expr <- if (missing(object)) NULL else substitute(object)
    as_user_call(sys.call(), heatmap_spec(
      function() user_object(expr, function() object, "exprscope_heatmap"),
      genes, top_n, groupby, dataset_key, cluster_key, matrix, clusters, value, scale,
      zscore_clip, min_cells, cluster_genes, cluster_columns, metric
    ))
  }

  user_dual_expression <- function(object, gene_x, gene_y, color_by = "dataset",
                                   facet_by = "none", dataset_key = NULL, cluster_key = NULL,
                                   matrix = NULL, clusters = NULL, detected_only = FALSE,
                                   jitter = FALSE, density = "auto", marginals = FALSE,
                                   n_boot = 1000, seed = 0, embedding = NULL) {
    expr <- if (missing(object)) NULL else substitute(object)
    if (missing(gene_x)) gene_x <- NULL
    if (missing(gene_y)) gene_y <- NULL
    as_user_call(sys.call(), dual_spec(
      function() user_object(expr, function() object, "exprscope_dual_expression"),
      gene_x, gene_y, color_by, facet_by, dataset_key, cluster_key, matrix, clusters,
      detected_only, jitter, density, marginals, n_boot, seed, embedding
    ))
  }

  # The environment "exprscope" on the search path, holding the two functions: attached
  # once, its functions replaced when the snippet runs again.
  attach_api <- function() {
    if (!API_NAME %in% search()) attach(NULL, pos = 2L, name = API_NAME, warn.conflicts = FALSE)
    api <- as.environment(API_NAME)
    assign("exprscope_heatmap", user_heatmap, envir = api)
    assign("exprscope_dual_expression", user_dual_expression, envir = api)
    invisible(api)
  }

  environment()
}, envir = new.env(parent = baseenv()))
.exprscope$attach_api()
.exprscope$register()
