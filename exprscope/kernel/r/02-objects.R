# exprscope R helper (see 00-env.R): objects, their matrices, metadata, embeddings, stored markers
# and fingerprints.
local({
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

  # The sample (replicate, donor) column: a categorical column other than the dataset one with
  # at least two non-empty categories and at least as many as the dataset column (Python's).
  guess_sample <- function(obs, dataset) {
    n_non_empty <- function(column) sum(vapply(column$categories, function(c) c$n_cells > 0L, TRUE))
    names <- vapply(obs, function(column) column$name, "")
    n_datasets <- 1L
    if (!is.na(dataset) && dataset %in% names) {
      column <- obs[[match(dataset, names)]]
      if (column$kind == "categorical") n_datasets <- n_non_empty(column)
    }
    others <- if (is.na(dataset)) obs else obs[names != dataset]
    guess(others, SAMPLE_NAMES, max(2L, n_datasets))
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
}, envir = .exprscope)
