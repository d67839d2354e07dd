# exprscope R helper (see 00-env.R): the markers op (docs/protocol.md, "markers"): the top
# markers of every cluster against all other cells by Seurat 4.3's default test, the Wilcoxon
# rank-sum test of FindAllMarkers(test.use = "wilcox"), for the heatmap's rows. The reply has
# the stored_markers columns, as the Python kernel's. R has no worker thread: everything runs
# in the handler, without progress messages.
#
# What FindAllMarkers(object, test.use = "wilcox", logfc.threshold = 0, min.pct = 0,
# only.pos = TRUE) returns, computed for every cluster at once from one ranking of each gene:
# - p_val: what Seurat's WilcoxDETest computes in this R. Without limma it calls
#   wilcox.test(cluster, rest)$p.value: the exact distribution when both sides have fewer than
#   50 cells and the gene has no ties, else the normal approximation with the tie and
#   continuity corrections. With limma installed Seurat 4.3 calls
#   limma::rankSumTestWithCorrelation instead (and Seurat 5 presto::wilcoxauc when presto is
#   installed): that same normal approximation for every gene, never the exact p, capped at 1.
#   The reply's exact_p says which. NaN (untested) for a gene tied in every cell.
# - avg_log2FC: Seurat's FoldChange: for a data slot normalised by LogNormalize (the
#   NormalizeData.<assay> command log says so, or else that of FindIntegrationAnchors or
#   FindTransferAnchors, as FindMarkers reads it), log2(mean(expm1(x)) + 1) of the cluster
#   minus the rest's; for other data and counts log2(mean(x) + 1) differences; scale.data the
#   mean difference (Seurat's avg_diff). Not scanpy's logfoldchanges (log2 of expm1 of mean x).
# - p_val_adj: Bonferroni over the genes of the matrix, min(1, p * n_genes).
# - order per cluster: p_val, then larger avg_log2FC, then gene order; only genes with
#   avg_log2FC > 0 (a heatmap shows positive markers); clusters (or rests) with fewer than 3
#   cells are skipped (min.cells.group).
# Seurat's filters are not applied (every gene is tested): min.pct = 0 and logfc.threshold = 0
# as above; return.thresh (FindAllMarkers keeps p_val < 0.01) is not applied either (the top n
# are shown whatever their p); max.cells.per.ident is not (all cells). `score` is the
# continuity-corrected z of the normal approximation (positive: higher in the cluster).
local({
  MIN_CELLS_GROUP <- 3L # Seurat's min.cells.group
  EXACT_BELOW <- 50L # wilcox.test's exact p for fewer than 50 values on both sides, no ties

  # Genes x cells of the whole matrix in the view's cell order (parts joined by cell name),
  # dgCMatrix unless the matrix is dense; genes some part lacks are dropped (as NaN genes in
  # Python) and named.
  whole_matrix <- function(view, entry) {
    parts <- entry$parts()
    features <- entry$features
    held <- Reduce(`&`, lapply(parts, function(part) features %in% part$features))
    kept <- features[held]
    blocks <- lapply(parts, function(part) {
      m <- part$m[match(kept, part$features), , drop = FALSE]
      if (!methods::is(m, "sparseMatrix")) m <- as.matrix(m)
      list(m = m, at = match(part$cells, view$cells))
    })
    if (length(blocks) == 1L && identical(blocks[[1L]]$at, seq_along(view$cells))) {
      m <- blocks[[1L]]$m
    } else {
      joined <- do.call(cbind, lapply(blocks, function(b) b$m[, !is.na(b$at), drop = FALSE]))
      at <- unlist(lapply(blocks, function(b) b$at[!is.na(b$at)]))
      if (length(at) != length(view$cells) || anyDuplicated(at)) {
        protocol_error(
          "not_supported",
          sprintf(
            "The matrix %s does not hold every cell once; markers need all cells.",
            quoted(entry$id)
          )
        )
      }
      m <- joined[, order(at), drop = FALSE]
    }
    list(m = m, genes = kept, excluded = features[!held])
  }

  # Seurat's FoldChange mean function for a matrix id (see the top of this file).
  fold_change_means <- function(view, matrix_id) {
    parts <- strsplit(matrix_id, "/", fixed = TRUE)[[1L]]
    slot <- parts[length(parts)]
    log_normalized <- FALSE
    if (view$kind == "Seurat" && slot == "data") {
      # FindMarkers.Seurat's norm.method: the assay's NormalizeData, else the first of the
      # integration commands
      commands <- methods::slot(view$obj, "commands")
      candidates <- c(
        paste0("NormalizeData.", parts[1L]),
        intersect(c("FindIntegrationAnchors", "FindTransferAnchors"), names(commands))[1L]
      )
      command <- candidates[!is.na(candidates) & candidates %in% names(commands)][1L]
      if (!is.na(command)) {
        method <- commands[[command]]@params$normalization.method
        log_normalized <- identical(method, "LogNormalize")
      }
    } else if (view$kind != "Seurat") {
      log_normalized <- slot == "logcounts" # an SCE's log-normalised assay
    }
    if (slot == "scale.data") {
      return(list(kind = "avg_diff", mean = function(m) Matrix::rowMeans(m)))
    }
    if (log_normalized) {
      return(list(kind = "log2 of mean expm1", mean = function(m) {
        log2(Matrix::rowMeans(expm1(m)) + 1)
      }))
    }
    list(kind = "log2 of mean", mean = function(m) log2(Matrix::rowMeans(m) + 1))
  }

  # Whether Seurat's WilcoxDETest would call wilcox.test here (hence exact p for small tie-free
  # genes): not when limma is installed (Seurat 4.3 and 5), nor presto with Seurat 5.
  has_package <- function(name) nzchar(system.file(package = name))
  seurat_uses_wilcox_test <- function() {
    if (has_package("limma")) {
      return(FALSE)
    }
    !(has_package("presto") && has_package("Seurat") &&
      utils::packageVersion("Seurat") >= "5.0.0")
  }

  # wilcox.test's exact two-sided p from W = rank sum - n_x (n_x + 1) / 2.
  wilcox_exact_p <- function(w, n_x, n_y) {
    p <- ifelse(
      w > n_x * n_y / 2, stats::pwilcox(w - 1, n_x, n_y, lower.tail = FALSE),
      stats::pwilcox(w, n_x, n_y)
    )
    pmin(2 * p, 1)
  }

  markers_core <- function(view, matrix_id, groupby, n) {
    entry <- find_matrix(view, matrix_id)
    cat <- as_categorical(obs_column(view, groupby))
    present <- sort(unique(cat$codes[cat$codes >= 0L]))
    if (length(present) < 2L) {
      found <- if (length(present)) paste(quoted(cat$categories[present + 1L]), collapse = ", ")
      else "none"
      protocol_error(
        "bad_request",
        sprintf(
          paste(
            "Markers compare each cluster with the other cells: %s has %d cluster%s with cells",
            "(%s). Choose a cluster column with at least two clusters."
          ),
          quoted(groupby), length(present), if (length(present) == 1L) "" else "s", found
        ),
        list(argument = "groupby")
      )
    }
    labels <- cat$categories[present + 1L]
    # Group per cell: its cluster (1..K), cells without one K + 1 (in every rest)
    group <- match(cat$codes, present)
    group[is.na(group)] <- length(labels) + 1L
    whole <- whole_matrix(view, entry)
    m <- whole$m
    n_cells <- ncol(m)
    sums <- group_rank_sums(m, group, length(labels) + 1L)
    means <- fold_change_means(view, matrix_id)
    n_genes <- nrow(m)
    exact_p <- seurat_uses_wilcox_test()
    rows <- list()
    tested <- character(0)
    for (k in seq_along(labels)) {
      in_cluster <- group == k
      n_x <- sum(in_cluster)
      n_y <- n_cells - n_x
      if (n_x < MIN_CELLS_GROUP || n_y < MIN_CELLS_GROUP) next
      tested <- c(tested, labels[k])
      test <- wilcox_normal(sums$rank_sum[k, ], n_x, n_cells, sums$ties)
      p <- test$pvalue
      if (exact_p && n_x < EXACT_BELOW && n_y < EXACT_BELOW) {
        exact <- which(sums$ties == 0)
        w <- sums$rank_sum[k, exact] - n_x * (n_x + 1) / 2
        p[exact] <- wilcox_exact_p(w, n_x, n_y)
      }
      lfc <- means$mean(m[, in_cluster, drop = FALSE]) - means$mean(m[, !in_cluster, drop = FALSE])
      lfc <- as.double(lfc)
      positive <- which(lfc > 0 & !is.na(p))
      ranked <- positive[order(p[positive], -lfc[positive], positive)]
      top <- utils::head(ranked, n)
      rows[[length(rows) + 1L]] <- list(
        group = rep(labels[k], length(top)), rank = seq_along(top), gene = whole$genes[top],
        score = test$stat[top], logfoldchange = lfc[top],
        pval_adj = pmin(1, p[top] * n_genes)
      )
    }
    take <- function(name) unlist(lapply(rows, function(r) r[[name]]))
    list(
      groups = tested, skipped = setdiff(labels, tested), n_genes = n_genes,
      excluded = whole$excluded, fold_change = means$kind, exact_p = exact_p,
      table = list(
        group = as.character(take("group")), rank = as.integer(take("rank")),
        gene = as.character(take("gene")), score = as.double(take("score")),
        logfoldchange = as.double(take("logfoldchange")), pval_adj = as.double(take("pval_adj"))
      )
    )
  }

  op_markers <- function(args) {
    name <- str_arg(args, "object")
    matrix_id <- str_arg(args, "matrix")
    groupby <- str_arg(args, "groupby")
    method <- optional_str_arg(args, "method")
    if (!is.null(method) && !identical(method, "wilcoxon")) {
      bad_argument("method", '"wilcoxon" (the t-test is computed in the browser)')
    }
    n <- int_arg(args, "n", 10L, 1L, MAX_STORED_MARKERS)
    bool_arg(args, "tie_correct") # checked; wilcox.test always corrects for ties
    view <- lookup(name)
    out <- markers_core(view, matrix_id, groupby, n)
    table <- out$table
    list(
      result = list(
        available = TRUE, key = NULL_JSON, method = "wilcoxon", tie_correct = TRUE,
        test = "Seurat FindAllMarkers (wilcox)", fold_change = out$fold_change,
        exact_p = out$exact_p,
        matrix = matrix_id, groupby = groupby, reference = "rest", groups = I(out$groups),
        skipped_groups = I(out$skipped), n_genes = out$n_genes,
        excluded_genes = I(out$excluded), fingerprint = fingerprint(view)
      ),
      columns = list(
        column("group", "utf8", table$group),
        column("rank", "int32", table$rank),
        column("gene", "utf8", table$gene),
        column("score", "float64", table$score),
        column("logfoldchange", "float64", table$logfoldchange),
        column("pval_adj", "float64", table$pval_adj)
      )
    )
  }

  OPS$markers <- op_markers
}, envir = .exprscope)
