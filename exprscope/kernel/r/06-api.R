# Over 600 lines: the three notebook functions in one local() block sharing its helpers (a split into a 06b part is pending).
# exprscope R helper (see 00-env.R): the notebook functions exprscope_heatmap(),
# exprscope_dual_expression() and exprscope_compare().
local({
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
  VALUES <- c("mean", "linear_mean", "fraction", "dot", "log2fc")
  COMPARE_METHODS <- c("pseudobulk", "wilcoxon")
  MARKER_METHODS <- c("auto", "t-test", "wilcoxon")
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
      sample_column = if (is.null(columns$sample)) NULL_JSON else columns$sample,
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

  # The comparison of a log2 fold change heatmap (value "log2fc"): reference and target must
  # be datasets, the sample column a grouping column (guessed when not given); the spec's
  # reference, target, compare_method and sample_column. Other values take none of them.
  comparison_spec <- function(view, value, groupby, columns, reference, target, sample_key,
                              method) {
    given <- c(reference = !is.null(reference), target = !is.null(target),
      method = !is.null(method))
    if (value != "log2fc") {
      if (any(given)) {
        usage_error(
          "%s only go with value = \"log2fc\" (the condition difference heatmap), not value = %s.",
          paste(names(given)[given], collapse = " and "), shown(value)
        )
      }
      return(list(reference = NULL_JSON, target = NULL_JSON, compare_method = "auto"))
    }
    if (groupby != "cluster") {
      usage_error("value = \"log2fc\" compares datasets within each cluster: groupby must be \"cluster\".")
    }
    if (is.null(columns$dataset) || identical(columns$dataset, NULL_JSON) ||
      is.null(columns$cluster) || identical(columns$cluster, NULL_JSON)) {
      usage_error("value = \"log2fc\" needs a dataset column and a cluster column (dataset_key, cluster_key).")
    }
    datasets <- as_categorical(view$obs(columns$dataset))$categories
    reference <- check_string(reference, "reference",
      "the dataset the fold change is taken against (e.g. \"ctrl\")")
    if (!is.null(target)) check_string(target, "target", "a dataset name", optional = TRUE)
    for (entry in list(list("reference", reference), list("target", target))) {
      if (!is.null(entry[[2L]]) && !entry[[2L]] %in% datasets) {
        usage_error("%s = %s is not a dataset of %s; its datasets are %s.", entry[[1L]],
          shown(entry[[2L]]), shown(columns$dataset), shown(datasets))
      }
    }
    if (identical(target, reference)) usage_error("target must differ from reference.")
    if (!is.null(method)) check_choice(method, "method", COMPARE_METHODS)
    sample <- check_string(sample_key, "sample_key", "a metadata column name", optional = TRUE)
    if (is.null(sample)) {
      sample <- guess_sample(describe_obs(view), columns$dataset)
    } else if (!sample %in% view$obs_names) {
      usage_error("sample_key = %s is not a cell metadata column of %s; its columns are %s.",
        shown(sample), shown(view$name), shown(view$obs_names))
    }
    list(
      sample = sample,
      reference = reference, target = if (is.null(target)) NULL_JSON else target,
      compare_method = if (is.null(method)) "auto" else method
    )
  }

  heatmap_spec <- function(view_of, genes, top_n, groupby, dataset_key, cluster_key, matrix,
                           clusters, value, scale, zscore_clip, min_cells, cluster_genes,
                           cluster_columns, metric, reference = NULL, target = NULL,
                           sample_key = NULL, method = NULL, marker_method = "auto") {
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
    check_choice(marker_method, "marker_method", MARKER_METHODS)
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
    comparison <- comparison_spec(view, value, groupby, columns, reference, target, sample_key,
      method)
    if (!is.null(comparison$sample)) columns$sample <- comparison$sample
    spec <- c(common_spec("heatmap", view, entry, columns, clusters), list(
      gene_source = if (is.null(genes)) "markers" else "selected",
      genes = I(if (is.null(genes)) character(0) else genes), top_n = top_n,
      marker_method = marker_method, group_by = groupby, value = value, reference = comparison$reference,
      target = comparison$target, compare_method = comparison$compare_method, scaling = scale,
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
                           cluster_columns = FALSE, metric = "euclidean", reference = NULL,
                           target = NULL, sample_key = NULL, method = NULL,
                           marker_method = "auto") {
    expr <- if (missing(object)) NULL else substitute(object)
    as_user_call(sys.call(), heatmap_spec(
      function() user_object(expr, function() object, "exprscope_heatmap"),
      genes, top_n, groupby, dataset_key, cluster_key, matrix, clusters, value, scale,
      zscore_clip, min_cells, cluster_genes, cluster_columns, metric, reference, target,
      sample_key, method, marker_method
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

  # -- exprscope_compare(): the compare op's numbers as a data.frame --------------------------
  # Nothing is displayed, so the object may be any Seurat or SingleCellExperiment value (not
  # only a global variable). One row per gene x cluster, untested clusters included with NaN
  # and a note, as Python's exprscope.compare.

  compare_frame <- function(object, label, reference, target, dataset_key, cluster_key,
                            sample_key, method, clusters, genes, min_cells, matrix, counts) {
    kind <- object_kind(object)
    if (is.null(kind)) {
      usage_error(
        "object must be a Seurat or SingleCellExperiment object, not a %s.", class(object)[1L]
      )
    }
    view <- make_view(object, kind)
    view$name <- label
    check_string(reference, "reference", "the dataset compared against (e.g. \"ctrl\")")
    check_string(target, "target", "a dataset name", optional = TRUE)
    if (!is.null(method)) check_choice(method, "method", COMPARE_METHODS)
    check_string(sample_key, "sample_key", "a metadata column name", optional = TRUE)
    check_string(counts, "counts", "a matrix id such as \"RNA/counts\"", optional = TRUE)
    min_cells <- check_integer(min_cells, "min_cells", 1L)
    if (!is.null(clusters)) {
      clusters <- check_labels(
        clusters, "clusters", "a vector of cluster labels (character, factor or whole numbers)",
        "at least one cluster, or NULL for all", allow_numbers = TRUE
      )
    }
    if (!is.null(genes)) {
      genes <- check_labels(
        genes, "genes", "a gene name or a character vector of gene names",
        "at least one gene, or NULL for all"
      )
    }
    entry <- user_matrix(view, matrix)
    columns <- user_columns(view, dataset_key, cluster_key)
    for (role in c("dataset", "cluster")) {
      if (is.na(columns[[role]])[1L]) {
        usage_error(
          "No %s column could be guessed from the usual names; pass %s_key = <metadata column>.",
          role, role
        )
      }
    }
    comparison <- tryCatch(
      compare_core(
        view, entry$id, reference, target, columns$dataset, columns$cluster, sample_key,
        method, clusters, genes, min_cells, counts
      ),
      exprscope_error = function(e) usage_error("%s", conditionMessage(e))
    )
    attrs <- comparison$attrs
    per_cluster <- comparison$clusters
    each <- function(value_of) {
      unlist(lapply(per_cluster, function(e) rep(value_of(e), length.out = length(e$genes))))
    }
    count <- function(name) {
      function(e) if (is.na(e[[name]])[1L]) NA_integer_ else as.integer(e[[name]])
    }
    frame <- data.frame(
      gene = as.character(each(function(e) e$genes)),
      cluster = as.character(each(function(e) e$cluster)),
      log2fc = as.double(each(function(e) e$log2fc)),
      stat = as.double(each(function(e) e$stat)),
      pvalue = as.double(each(function(e) e$pvalue)),
      padj = as.double(each(function(e) e$padj)),
      n_cells_a = as.integer(each(count("n_cells_a"))),
      n_cells_b = as.integer(each(count("n_cells_b"))),
      n_samples_a = as.integer(each(count("n_samples_a"))),
      n_samples_b = as.integer(each(count("n_samples_b"))),
      method = rep(attrs$method, length.out = sum(lengths(lapply(per_cluster, `[[`, "genes")))),
      # Python's note: why a cluster was not tested, else the Wilcoxon caveat (or nothing).
      note = as.character(each(function(e) {
        if (nzchar(e$note) || !e$tested || attrs$method != "wilcoxon") e$note else attrs$caveat
      })),
      stringsAsFactors = FALSE
    )
    attr(frame, "comparison") <- attrs
    frame
  }

  user_compare <- function(object, reference, target = NULL, dataset_key = NULL,
                           cluster_key = NULL, sample_key = NULL, method = NULL,
                           clusters = NULL, genes = NULL, min_cells = 10, matrix = NULL,
                           counts = NULL) {
    call <- sys.call()
    if (missing(object)) {
      stop(simpleError(paste(
        "object is missing: give a Seurat or SingleCellExperiment object, e.g.",
        "exprscope_compare(pbmc, reference = \"ctrl\", ...)."
      ), call))
    }
    label <- paste(deparse(substitute(object), width.cutoff = 60L, nlines = 1L), collapse = "")
    if (missing(reference)) reference <- NULL
    as_user_call(call, compare_frame(
      object, label, reference, target, dataset_key, cluster_key, sample_key, method, clusters,
      genes, min_cells, matrix, counts
    ))
  }

  # The environment "exprscope" on the search path, holding the three functions: attached
  # once, its functions replaced when the snippet runs again.
  attach_api <- function() {
    if (!API_NAME %in% search()) attach(NULL, pos = 2L, name = API_NAME, warn.conflicts = FALSE)
    api <- as.environment(API_NAME)
    assign("exprscope_heatmap", user_heatmap, envir = api)
    assign("exprscope_dual_expression", user_dual_expression, envir = api)
    assign("exprscope_compare", user_compare, envir = api)
    invisible(api)
  }
}, envir = .exprscope)
