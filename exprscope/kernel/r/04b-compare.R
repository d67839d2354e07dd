# exprscope R helper (see 00-env.R): the compare op (docs/protocol.md, "compare"): target vs
# reference dataset within each cluster, by DESeq2 on pseudobulk counts or by a cell-level
# Wilcoxon rank-sum test, with the Python kernel's arguments, errors and reply. R has no worker
# thread: everything runs in the handler, without progress messages.
local({
  PSEUDOBULK <- "pseudobulk"
  WILCOXON <- "wilcoxon"
  # The Python kernel's caveat (exprscope/compute/compare.py), word for word.
  WILCOXON_NOTE <- paste(
    "cell-level Wilcoxon rank-sum: cells are not independent replicates, so p values overstate",
    "the evidence for a difference between conditions"
  )
  DESEQ_NOTE <- "pseudobulk DESeq2 (Bioconductor DESeq2, Wald test, design ~condition)"
  # Dense values ranked at once by the Wilcoxon test (genes x cells of one cluster): ~160 MB.
  MAX_RANK_BLOCK <- 2e7

  comparison_error <- function(message, argument, suggest = NULL) {
    details <- list(argument = argument)
    if (!is.null(suggest)) details$suggest <- suggest
    protocol_error("bad_request", message, details)
  }

  listed <- function(x) {
    shown <- utils::head(x, 20L)
    more <- if (length(x) > 20L) sprintf(" and %d more", length(x) - 20L) else ""
    paste0("[", paste(quoted(shown), collapse = ", "), more, "]")
  }

  # A metadata column as each cell's label (NA when missing) and the labels present, in
  # category order (as_categorical's: factor levels, else sorted values).
  labels_of <- function(view, key, role) {
    if (!key %in% view$obs_names) {
      protocol_error(
        "unknown_column", sprintf("No cell metadata column %s (%s).", quoted(key), role),
        list(column = key, role = role)
      )
    }
    cat <- as_categorical(view$obs(key))
    cell <- rep(NA_character_, length(cat$codes))
    labelled <- cat$codes >= 0L
    cell[labelled] <- cat$categories[cat$codes[labelled] + 1L]
    present <- sort(unique(cat$codes[labelled]))
    list(cell = cell, levels = cat$categories[present + 1L])
  }

  # compare's arguments checked and completed (exprscope.conditions.resolve_comparison): the
  # target and the method chosen, the sample column guessed for pseudobulk, clusters checked.
  resolve_comparison <- function(view, reference, target, dataset_key, cluster_key, sample_key,
                                 method, clusters) {
    dataset <- labels_of(view, dataset_key, "dataset_key")
    cluster <- labels_of(view, cluster_key, "cluster_key")
    sample <- if (!is.null(sample_key)) labels_of(view, sample_key, "sample_key")
    if (!is.null(method) && !method %in% c(PSEUDOBULK, WILCOXON)) {
      bad_argument("method", '"pseudobulk", "wilcoxon" or null')
    }
    datasets <- dataset$levels
    if (!reference %in% datasets) {
      comparison_error(sprintf(
        "Reference dataset %s is not in %s; its datasets are %s.", quoted(reference),
        quoted(dataset_key), listed(datasets)
      ), "reference")
    }
    if (is.null(target)) {
      others <- setdiff(datasets, reference)
      if (length(others) != 1L) {
        comparison_error(sprintf(
          "Give a target: %s has %d datasets besides the reference (%s).", quoted(dataset_key),
          length(others), listed(others)
        ), "target")
      }
      target <- others
    }
    if (!target %in% datasets || target == reference) {
      comparison_error(sprintf(
        "Target dataset %s must be another dataset of %s: %s.", quoted(target),
        quoted(dataset_key), listed(datasets)
      ), "target")
    }
    if (is.null(sample_key) && (is.null(method) || method == PSEUDOBULK)) {
      guessed <- guess_sample(describe_obs(view), dataset_key)
      if (!is.na(guessed)) {
        sample_key <- guessed
        sample <- labels_of(view, guessed, "sample_key")
      }
    }
    if (is.null(method)) method <- if (is.null(sample_key)) WILCOXON else PSEUDOBULK
    chosen <- if (is.null(clusters)) cluster$levels else clusters
    unknown <- setdiff(chosen, cluster$levels)
    if (length(unknown)) {
      comparison_error(sprintf(
        "Unknown clusters %s; %s has %s.", listed(unknown), quoted(cluster_key),
        listed(cluster$levels)
      ), "clusters")
    }
    list(
      reference = reference, target = target, dataset_key = dataset_key,
      cluster_key = cluster_key, sample_key = sample_key, method = method, clusters = chosen,
      dataset = dataset$cell, cluster = cluster$cell, sample = sample$cell
    )
  }

  # Positions of the requested genes among a matrix's features (all of them for NULL);
  # a bad_request names the genes it does not hold.
  gene_rows <- function(features, genes, matrix_id) {
    if (is.null(genes)) {
      return(seq_along(features))
    }
    rows <- match(genes, features)
    missing <- genes[is.na(rows)]
    if (length(missing)) {
      shown <- paste(utils::head(missing, 10L), collapse = ", ")
      if (length(missing) > 10L) shown <- sprintf("%s and %d more", shown, length(missing) - 10L)
      comparison_error(sprintf("Not in %s: %s.", matrix_id, shown), "genes")
    }
    rows
  }

  # The default counts: the first matrix that is a counts slot, layer or assay (the default
  # assay's first, as matrices() orders them).
  counts_entry <- function(view, counts_id) {
    if (!is.null(counts_id)) {
      return(find_matrix(view, counts_id))
    }
    for (entry in matrices(view)) {
      if (endsWith(entry$id, "/counts")) {
        return(entry)
      }
    }
    comparison_error(paste(
      "Pseudobulk needs raw counts, but this object has none (a Seurat counts slot or layer,",
      "or a SingleCellExperiment counts assay). Add them, or use method \"wilcoxon\" on the",
      "log-normalised values."
    ), "counts", WILCOXON)
  }

  # Sums of a matrix per group of cells (genes x groups): `cells` are positions in the view,
  # `group` their group (1..n_groups). Part by part (v5 split layers hold disjoint cells).
  group_sums <- function(view, entry, cells, group, n_groups) {
    features <- entry$features
    sums <- matrix(0, length(features), n_groups)
    for (part in entry$parts()) {
      at <- match(part$cells, view$cells[cells])
      cols <- which(!is.na(at))
      rows <- match(part$features, features)
      held <- which(!is.na(rows))
      if (length(cols) == 0L || length(held) == 0L) next
      m <- part$m[held, cols, drop = FALSE]
      if (!is.matrix(m) && !methods::is(m, "CsparseMatrix")) m <- methods::as(m, "CsparseMatrix")
      indicator <- Matrix::sparseMatrix(
        i = seq_along(cols), j = group[at[cols]], x = 1, dims = c(length(cols), n_groups)
      )
      sums[rows[held], ] <- sums[rows[held], ] + as.matrix(m %*% indicator)
    }
    sums
  }

  # DESeq2's Wald test of target vs reference, design ~condition, its defaults throughout
  # (size factors, dispersions, Cook's outliers, independent filtering; log2 fold changes
  # unshrunk). Levels are renamed so that any dataset name makes a valid contrast.
  deseq_contrast <- function(counts, is_target) {
    condition <- ifelse(is_target, "target", "reference")
    col_data <- data.frame(
      condition = factor(condition, levels = c("reference", "target")),
      row.names = colnames(counts)
    )
    result <- suppressMessages({
      dds <- DESeq2::DESeqDataSetFromMatrix(
        countData = counts, colData = col_data, design = ~condition
      )
      dds <- DESeq2::DESeq(dds, quiet = TRUE)
      DESeq2::results(dds, contrast = c("condition", "target", "reference"))
    })
    list(
      log2fc = as.double(result$log2FoldChange), stat = as.double(result$stat),
      pvalue = as.double(result$pvalue), padj = as.double(result$padj)
    )
  }

  untested <- function(n) {
    list(log2fc = rep(NaN, n), stat = rep(NaN, n), pvalue = rep(NaN, n), padj = rep(NaN, n))
  }

  pseudobulk_clusters <- function(view, plan, genes, min_cells, counts_id) {
    if (is.null(plan$sample_key)) {
      comparison_error(paste(
        "Pseudobulk needs a sample (replicate, donor) column with \u2265 2 samples per dataset;",
        "none was given or guessed. Give sample_key, or use method \"wilcoxon\" (cells as",
        "replicates, which they are not)."
      ), "sample_key", WILCOXON)
    }
    entry <- counts_entry(view, counts_id)
    reference <- plan$reference
    target <- plan$target
    sample <- plan$sample
    dataset <- plan$dataset
    pairs <- unique(data.frame(s = sample, d = dataset)[!is.na(sample) & !is.na(dataset), ])
    crossing <- unique(pairs$s[duplicated(pairs$s)])
    if (length(crossing)) {
      comparison_error(sprintf(
        paste(
          "Samples must belong to one dataset each, but %s of %s occur in several datasets",
          "of %s; give a sample column whose labels are unique per dataset (e.g. donor +",
          "condition)."
        ),
        listed(utils::head(crossing, 5L)), quoted(plan$sample_key), quoted(plan$dataset_key)
      ), "sample_key")
    }
    dataset_of <- stats::setNames(pairs$d, pairs$s)
    # Summed: the cells of the two datasets in the chosen clusters, per sample x cluster.
    labelled <- !is.na(sample) & !is.na(plan$cluster)
    cells <- which(labelled & dataset %in% c(reference, target) & plan$cluster %in% plan$clusters)
    samples <- sort(unique(sample[cells]), method = "radix")
    n_samples <- length(samples)
    code <- (match(plan$cluster[cells], plan$clusters) - 1L) * n_samples +
      match(sample[cells], samples)
    observed <- sort(unique(code))
    group <- match(code, observed)
    sums <- group_sums(view, entry, cells, group, length(observed))
    if (anyNA(sums) || any(sums < 0) || any(abs(sums - round(sums)) > 1e-6)) {
      comparison_error(sprintf(
        paste(
          "Pseudobulk needs raw counts, but %s holds non-integer, negative or missing values",
          "(log-normalised or scaled). Choose the counts, or use method \"wilcoxon\"."
        ),
        quoted(entry$id)
      ), "counts", WILCOXON)
    }
    rows <- gene_rows(entry$features, genes, entry$id)
    groups <- data.frame(
      sample = samples[(observed - 1L) %% n_samples + 1L],
      cluster = plan$clusters[(observed - 1L) %/% n_samples + 1L],
      n_cells = tabulate(group, nbins = length(observed)), stringsAsFactors = FALSE
    )
    groups$dataset <- unname(dataset_of[groups$sample])
    # Replicates anywhere in the two datasets (not only in the chosen clusters), as Python.
    n_replicates <- function(d) length(unique(sample[labelled & dataset %in% d]))
    if (n_replicates(reference) < 2L || n_replicates(target) < 2L) {
      comparison_error(sprintf(
        paste(
          "Pseudobulk needs \u2265 2 samples per dataset, but %s has %d in %s and %d in %s.",
          "Use method \"wilcoxon\" (cells as replicates, which they are not) or add replicates."
        ),
        quoted(plan$sample_key), n_replicates(reference), quoted(reference),
        n_replicates(target), quoted(target)
      ), "method", WILCOXON)
    }
    lapply(plan$clusters, function(label) {
      of_cluster <- which(groups$cluster == label)
      n_cells <- function(d) sum(groups$n_cells[of_cluster][groups$dataset[of_cluster] == d])
      enough <- of_cluster[groups$n_cells[of_cluster] >= min_cells]
      n_enough <- function(d) length(unique(groups$sample[enough][groups$dataset[enough] == d]))
      out <- list(
        cluster = label, n_cells_a = n_cells(reference), n_cells_b = n_cells(target),
        n_samples_a = n_enough(reference), n_samples_b = n_enough(target),
        genes = entry$features[rows], note = ""
      )
      if (out$n_samples_a < 2L || out$n_samples_b < 2L) {
        out$note <- sprintf(
          "fewer than 2 samples with \u2265 %d cells in %s or %s", min_cells, quoted(reference),
          quoted(target)
        )
        return(c(out, untested(length(rows))))
      }
      # DESeq2 sees every gene whatever `genes` asks for: size factors and dispersions are
      # estimated across genes (as Python's); `genes` picks the rows.
      counts <- round(sums[, enough, drop = FALSE])
      storage.mode(counts) <- "integer"
      dimnames(counts) <- list(entry$features, groups$sample[enough])
      fit <- tryCatch(
        deseq_contrast(counts, groups$dataset[enough] == target),
        error = function(e) e
      )
      if (inherits(fit, "error")) {
        comparison_error(sprintf(
          "DESeq2 could not fit cluster %s: %s Use method \"wilcoxon\" instead.", quoted(label),
          conditionMessage(fit)
        ), "method", WILCOXON)
      }
      c(out, lapply(fit, function(values) values[rows]))
    })
  }

  # Values of some genes (rows) in some cells (columns) of a matrix, dense; NA where no part
  # holds a gene or a cell. Cells are matched by name (parts may store them in other orders).
  read_block <- function(parts, genes, cells) {
    out <- matrix(NA_real_, length(genes), length(cells))
    for (part in parts) {
      rows <- match(genes, part$features)
      have <- which(!is.na(rows))
      at <- match(part$cells, cells)
      cols <- which(!is.na(at))
      if (length(have) == 0L || length(cols) == 0L) next
      out[have, at[cols]] <- as.matrix(part$m[rows[have], cols, drop = FALSE])
    }
    out
  }

  # Sums of `weights` by `index` (1..n), zeros where an index has none.
  bincount <- function(index, weights, n) {
    out <- numeric(n)
    if (length(index) == 0L) return(out)
    sums <- rowsum(rep_len(as.double(weights), length(index)), index, reorder = TRUE)
    out[as.integer(rownames(sums))] <- sums[, 1L]
    out
  }

  # Rank sums per group of every row of `m` (genes x cells; dgCMatrix or dense; `group` the
  # 1-based group of each cell), each gene ranked over all cells with average ranks for ties,
  # and each gene's tie term sum(t^3 - t). Sparse-aware: only the non-zeros are sorted (one
  # radix sort for all genes); a gene's n0 zeros share one rank, n_negative + (n0 + 1) / 2,
  # and a positive value's rank is its rank among the non-zeros plus n0 (as the Python
  # kernel's exprscope/compute/ranksum.py). NA for a gene with a missing value.
  group_rank_sums <- function(m, group, n_groups) {
    n <- ncol(m)
    k <- nrow(m)
    # One column per gene; stored zeros dropped (they tie with the other zeros)
    cells_by_gene <- Matrix::drop0(Matrix::t(methods::as(m, "CsparseMatrix")))
    x <- cells_by_gene@x
    nnz <- diff(cells_by_gene@p)
    gene <- rep.int(seq_len(k), nnz)
    missing <- is.na(x)
    has_na <- tabulate(gene[missing], k) > 0L
    x[missing] <- 0 # ranked anywhere: the gene's sums become NA below
    n_zero <- n - nnz
    n_negative <- tabulate(gene[x < 0], k)
    order_ <- order(gene, x, method = "radix")
    xs <- x[order_]
    gs <- gene[order_]
    cell_group <- group[cells_by_gene@i[order_] + 1L]
    sums <- matrix(0, n_groups, k)
    ties <- n_zero^3 - n_zero
    if (length(xs) > 0L) {
      position <- seq_along(xs) - cells_by_gene@p[gs] # 1-based rank among the stored values
      position <- position + ifelse(xs > 0, n_zero[gs], 0)
      new_run <- c(TRUE, xs[-1L] != xs[-length(xs)] | gs[-1L] != gs[-length(gs)])
      run <- cumsum(new_run)
      run_size <- tabulate(run)
      rank <- (bincount(run, position, length(run_size)) / run_size)[run]
      key <- (gs - 1L) * n_groups + cell_group # column-major (group, gene)
      sums[] <- bincount(key, rank, n_groups * k)
      stored <- matrix(bincount(key, 1, n_groups * k), n_groups, k)
      ties <- ties + bincount(gs[new_run], as.double(run_size)^3 - run_size, k)
    } else {
      stored <- matrix(0, n_groups, k)
    }
    n_per_group <- tabulate(group, n_groups)
    zero_rank <- n_negative + (n_zero + 1) / 2
    sums <- sums + (n_per_group - stored) * rep(zero_rank, each = n_groups)
    sums[, has_na] <- NA_real_
    ties[has_na] <- NA_real_
    list(rank_sum = sums, ties = ties, n = n_per_group)
  }

  # wilcox.test(x, y, exact = FALSE, correct = TRUE)'s z and p from the rank sum of x (n_x
  # values among n) and the tie term sum(t^3 - t): the normal approximation with the tie and
  # the continuity corrections, as stats:::wilcox.test.default computes them. NaN where every
  # value is tied (wilcox.test's).
  wilcox_normal <- function(rank_sum, n_x, n, ties) {
    n_y <- n - n_x
    z <- rank_sum - n_x * (n_x + 1) / 2 - n_x * n_y / 2
    sigma <- sqrt((n_x * n_y / 12) * ((n + 1) - ties / (n * (n - 1))))
    z <- (z - sign(z) * 0.5) / sigma
    z[sigma == 0 | is.na(sigma)] <- NaN
    list(stat = z, pvalue = 2 * pmin(stats::pnorm(z), stats::pnorm(z, lower.tail = FALSE)))
  }

  # wilcox.test(target, reference, exact = FALSE, correct = TRUE) for every row of `block`
  # (genes x cells) at once. NaN where every value is tied or a value is missing.
  rank_sum_test <- function(block, is_target) {
    sums <- group_rank_sums(block, ifelse(is_target, 2L, 1L), 2L)
    wilcox_normal(sums$rank_sum[2L, ], sum(is_target), length(is_target), sums$ties)
  }

  wilcoxon_clusters <- function(view, plan, genes, min_cells, matrix_id) {
    entry <- find_matrix(view, matrix_id)
    rows <- gene_rows(entry$features, genes, matrix_id)
    gene_names <- entry$features[rows]
    parts <- entry$parts()
    lapply(plan$clusters, function(label) {
      cells <- which(plan$cluster %in% label & plan$dataset %in% c(plan$reference, plan$target))
      is_target <- plan$dataset[cells] == plan$target
      n_samples <- function(side) {
        if (is.null(plan$sample)) NULL_JSON else length(unique(stats::na.omit(plan$sample[side])))
      }
      out <- list(
        cluster = label, n_cells_a = sum(!is_target), n_cells_b = sum(is_target),
        n_samples_a = n_samples(cells[!is_target]), n_samples_b = n_samples(cells[is_target]),
        genes = gene_names, note = ""
      )
      if (out$n_cells_a < min_cells || out$n_cells_b < min_cells) {
        out$note <- sprintf(
          "fewer than %d cells in %s or %s", min_cells, quoted(plan$reference),
          quoted(plan$target)
        )
        return(c(out, untested(length(gene_names))))
      }
      # The cluster's cells of each part, once; then genes in blocks of bounded size.
      names_of_cells <- view$cells[cells]
      own <- lapply(parts, function(part) {
        keep <- which(part$cells %in% names_of_cells)
        list(m = part$m[, keep, drop = FALSE], features = part$features, cells = part$cells[keep])
      })
      result <- list(log2fc = numeric(0), stat = numeric(0), pvalue = numeric(0))
      chunk <- max(1L, floor(MAX_RANK_BLOCK / length(cells)))
      for (start in seq(1L, max(1L, length(gene_names)), by = chunk)) {
        if (length(gene_names) == 0L) break
        at <- start:min(length(gene_names), start + chunk - 1L)
        block <- read_block(own, gene_names[at], names_of_cells)
        test <- rank_sum_test(block, is_target)
        # scanpy's logfoldchanges (the Python kernel's): log2 of expm1 of the mean stored
        # (natural log1p) values, target over reference.
        mean_b <- rowMeans(block[, is_target, drop = FALSE])
        mean_a <- rowMeans(block[, !is_target, drop = FALSE])
        result$log2fc <- c(result$log2fc, log2((expm1(mean_b) + 1e-9) / (expm1(mean_a) + 1e-9)))
        result$stat <- c(result$stat, test$stat)
        result$pvalue <- c(result$pvalue, test$pvalue)
      }
      result$padj <- stats::p.adjust(result$pvalue, method = "BH") # BH over the tested genes
      c(out, result)
    })
  }

  # The comparison the op and exprscope_compare() share: its attributes and, per cluster, the
  # counts, a note and one value per gene. Errors are protocol errors.
  compare_core <- function(view, matrix_id, reference, target = NULL, dataset_key, cluster_key,
                           sample_key = NULL, method = NULL, clusters = NULL, genes = NULL,
                           min_cells = 10L, counts_id = NULL) {
    find_matrix(view, matrix_id)
    if (!is.null(counts_id)) find_matrix(view, counts_id)
    plan <- resolve_comparison(
      view, reference, target, dataset_key, cluster_key, sample_key, method, clusters
    )
    if (plan$method == PSEUDOBULK) {
      entry <- counts_entry(view, counts_id)
      if (!requireNamespace("DESeq2", quietly = TRUE)) {
        comparison_error(paste(
          "Pseudobulk differential expression in R needs the Bioconductor package DESeq2",
          "(BiocManager::install(\"DESeq2\")); or use method \"wilcoxon\"."
        ), "method", WILCOXON)
      }
      per_cluster <- pseudobulk_clusters(view, plan, genes, min_cells, counts_id)
      tested_matrix <- entry$id
    } else {
      per_cluster <- wilcoxon_clusters(view, plan, genes, min_cells, matrix_id)
      tested_matrix <- matrix_id
    }
    list(
      attrs = list(
        method = plan$method, caveat = if (plan$method == PSEUDOBULK) DESEQ_NOTE else WILCOXON_NOTE,
        reference = plan$reference, target = plan$target, matrix = tested_matrix,
        dataset_key = plan$dataset_key, cluster_key = plan$cluster_key,
        sample_key = if (is.null(plan$sample_key)) NULL_JSON else plan$sample_key
      ),
      clusters = lapply(per_cluster, function(entry) {
        entry$tested <- any(is.finite(entry$pvalue))
        entry
      })
    )
  }

  op_compare <- function(args) {
    # Every argument read (and checked) before any work starts.
    # The string arguments, in the order they are checked (TRUE: optional, NULL when absent)
    optional <- c(
      object = FALSE, matrix = FALSE, counts = TRUE, reference = FALSE, target = TRUE,
      dataset_key = FALSE, cluster_key = FALSE, sample_key = TRUE, method = TRUE
    )
    given <- Map(function(key, optional) {
      if (optional) optional_str_arg(args, key) else str_arg(args, key)
    }, names(optional), optional)
    clusters <- if (is.null(args[["clusters"]])) NULL else unique(str_list_arg(args, "clusters"))
    if (!is.null(clusters) && length(clusters) == 0L) {
      bad_argument("clusters", "a non-empty list of clusters, or null for all")
    }
    genes <- if (is.null(args[["genes"]])) NULL else unique(str_list_arg(args, "genes"))
    min_cells <- int_arg(args, "min_cells", 10L, 1L, .Machine$integer.max)
    comparison <- compare_core(
      lookup(given$object), given$matrix, given$reference, given$target, given$dataset_key,
      given$cluster_key, given$sample_key, given$method, clusters, genes, min_cells, given$counts
    )
    tested <- Filter(function(entry) entry$tested, comparison$clusters)
    genes <- unlist(lapply(tested, function(entry) entry$genes))
    cluster <- unlist(lapply(tested, function(entry) rep(entry$cluster, length(entry$genes))))
    if (is.null(genes)) genes <- cluster <- character(0)
    gene_categories <- unique(genes)
    cluster_categories <- vapply(tested, function(entry) entry$cluster, "")
    values <- function(name) as.double(unlist(lapply(tested, function(entry) entry[[name]])))
    result <- comparison$attrs
    result$clusters <- lapply(comparison$clusters, function(entry) {
      entry[c("cluster", "n_cells_a", "n_cells_b", "n_samples_a", "n_samples_b", "tested", "note")]
    })
    result$n_genes <- length(gene_categories)
    list(
      result = result,
      columns = list(
        column("gene", "dictionary", match(genes, gene_categories) - 1L, gene_categories),
        column(
          "cluster", "dictionary", match(cluster, cluster_categories) - 1L, cluster_categories
        ),
        column("log2fc", "float64", values("log2fc")),
        column("stat", "float64", values("stat")),
        column("pvalue", "float64", values("pvalue")),
        column("padj", "float64", values("padj"))
      )
    )
  }

  OPS$compare <- op_compare
}, envir = .exprscope)
