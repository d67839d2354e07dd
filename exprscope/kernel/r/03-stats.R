# exprscope R helper (see 00-env.R): per-group statistics (group_stats) and gene-pair correlations
# (pair_stats).
local({
  # Per non-empty group (of one column or the crossing of two) and in total: sum, sum of
  # squares and count of values > 0 for every gene, accumulated in double precision, part by
  # part (v5 split layers hold disjoint cells, so their sums add up).
  # Groups of one obs column or the crossing of two or three (the first outermost), non-empty
  # ones in category order, as Python's: each cell's group (1-based, NA without a label) and
  # the groups' labels and sizes. `max_columns`: 3 for group_stats, 2 for pair_stats.
  stat_groups <- function(view, groupby, max_columns = 2L) {
    if (!length(groupby) %in% seq_len(max_columns) || anyDuplicated(groupby)) {
      bad_argument("groupby", if (max_columns == 3L) {
        "a list of one to three distinct obs column names"
      } else {
        "a list of one or two distinct obs column names"
      })
    }
    cats <- lapply(groupby, function(column) {
      cat <- as_categorical(obs_column(view, column))
      used <- sort(unique(cat$codes[cat$codes >= 0L]))
      if (length(used) > MAX_STAT_GROUPS) {
        too_many_groups(length(used), sprintf("Column %s has", quoted(column)))
      }
      list(codes = match(cat$codes, used) - 1L, categories = cat$categories[used + 1L])
    })
    sizes <- vapply(cats, function(cat) length(cat$categories), 0)
    # Crossed 0-based codes in double precision (three columns of 1000 overflow integers)
    codes <- rep(0, length(cats[[1L]]$codes))
    for (k in seq_along(cats)) codes <- codes * sizes[[k]] + cats[[k]]$codes
    observed <- sort(unique(codes[!is.na(codes)]))
    if (length(observed) > MAX_STAT_GROUPS) too_many_groups(length(observed), "The grouping has")
    group_of_cell <- match(codes, observed)
    counts <- tabulate(group_of_cell, nbins = length(observed))
    groups <- lapply(seq_along(observed), function(g) {
      rest <- observed[[g]]
      labels <- character(length(cats))
      for (k in rev(seq_along(cats))) {
        labels[[k]] <- cats[[k]]$categories[rest %% sizes[[k]] + 1]
        rest <- rest %/% sizes[[k]]
      }
      list(labels = I(labels), n = counts[[g]])
    })
    list(group_of_cell = group_of_cell, groups = groups, n_groups = length(observed))
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
    grouping <- stat_groups(view, groupby, max_columns = 3L)
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
    pair <- pair_group_stats(
      values[, 1L], values[, 2L], grouping$group_of_cell, grouping$n_groups,
      detected_only, spearman, max_sample
    )
    result$spearman_sampled <- pair$spearman_sampled
    list(result = result, columns = pair$columns)
  }

  # The pair_stats table: per group, the sums of two genes' values (x, y; one per cell) and
  # their Pearson and Spearman correlations. group_of_cell: 1..n_groups, NA for no group.
  # Apart from the op so that the conformance suite can run it on its inputs.
  pair_group_stats <- function(x, y, group_of_cell, n_groups, detected_only, spearman,
                               max_sample) {
    spearman_sampled <- FALSE
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
    members <- split(seq_along(group_of_cell), factor(group_of_cell, levels = seq_len(n_groups)))
    for (g in seq_len(n_groups)) {
      cells <- members[[g]]
      gx <- x[cells]
      gy <- y[cells]
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
          spearman_sampled <- TRUE
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
    list(columns = columns, spearman_sampled = spearman_sampled)
  }

  too_many_groups <- function(n, what) {
    protocol_error(
      "too_large",
      sprintf("%s %d groups; group statistics are limited to %d.", what, n, MAX_STAT_GROUPS),
      list(groups = n, max_groups = MAX_STAT_GROUPS)
    )
  }
}, envir = .exprscope)
