# Holds the R helper to the conformance suite (conformance/README.md): sources the helper's
# parts in name order but not 07-start.R (no comm registration), then finishes from the
# stored inputs every statistic the helper has a function for. Usage: Rscript conformance.R <repo>
args <- commandArgs(trailingOnly = TRUE)
repo <- args[[1]]
parts <- sort(list.files(file.path(repo, "exprscope", "kernel", "r"), pattern = "\\.R$", full.names = TRUE))
for (part in parts[basename(parts) != "07-start.R"]) source(part)

fixture <- jsonlite::fromJSON(file.path(repo, "conformance", "compute_fixture.json"), simplifyVector = FALSE)
TOLERANCE <- 1e-10
failures <- character()
checked <- 0L
expect_close <- function(label, got, want) {
  if (is.null(want)) want <- NaN # null stands for NaN
  same <- (is.nan(got) && is.nan(want)) || abs(got - want) <= max(TOLERANCE * abs(want), 1e-300)
  if (!isTRUE(same)) failures <<- c(failures, sprintf("%s: R %.17g, stored %.17g", label, got, want))
  checked <<- checked + 1L
}

# Pearson p-value and Fisher interval from (r, n), as the helper's pair_stats finishes them.
for (case in fixture$outputs$correlations) {
  for (g in case$groups) {
    if (is.null(g$pearson_r)) next
    label <- sprintf("%s~%s %s=%s", case$gene_x, case$gene_y, case$grouping, g$group)
    expect_close(paste(label, "pearson_p"), .exprscope$correlation_p_value(g$pearson_r, g$n_cells), g$pearson_p)
    ci <- .exprscope$fisher_interval(g$pearson_r, g$n_cells)
    expect_close(paste(label, "pearson_ci_low"), ci[[1]], g$pearson_ci_low)
    expect_close(paste(label, "pearson_ci_high"), ci[[2]], g$pearson_ci_high)
    if (!is.null(g$spearman_rho)) {
      expect_close(paste(label, "spearman_p"), .exprscope$correlation_p_value(g$spearman_rho, g$n_cells), g$spearman_p)
    }
  }
}

# Pearson and Spearman per group from the stored cells, by the function op_pair_stats runs
# (exact Spearman: the fixture's ρ uses every cell).
cells <- fixture$inputs$cells
gene_values <- function(gene) as.double(unlist(cells$values[[match(gene, unlist(cells$genes))]]))
for (case in fixture$outputs$correlations) {
  grouping <- cells$groupings[[case$grouping]]
  codes <- as.integer(unlist(grouping$codes))
  group_of_cell <- ifelse(codes >= 0L, codes + 1L, NA_integer_)
  pair <- .exprscope$pair_group_stats(
    gene_values(case$gene_x), gene_values(case$gene_y), group_of_cell,
    length(grouping$categories), case$detected_only, "exact", .Machine$integer.max
  )
  got <- stats::setNames(lapply(pair$columns, `[[`, "values"), vapply(pair$columns, `[[`, "", "name"))
  for (g in case$groups) {
    i <- g$group + 1L
    label <- sprintf(
      "op_pair_stats %s~%s %s=%s%s", case$gene_x, case$gene_y, case$grouping, g$group,
      if (case$detected_only) " detected" else ""
    )
    expect_close(paste(label, "n_cells"), got$n[[i]], g$n_cells)
    expect_close(paste(label, "frac_double_positive"), got$n_both_positive[[i]] / got$n_cells[[i]], g$frac_double_positive)
    for (stat in c("pearson_r", "pearson_ci_low", "pearson_ci_high", "pearson_p", "spearman_rho", "spearman_p")) {
      expect_close(paste(label, stat), got[[stat]][[i]], g[[stat]])
    }
    want_reason <- if (is.null(g$reason)) NA_character_ else g$reason
    if (!identical(got$reason[[i]], want_reason)) {
      failures <- c(failures, sprintf("%s reason: R %s, stored %s", label, got$reason[[i]], want_reason))
    }
  }
}

cat(sprintf("checked %d values\n", checked))
if (length(failures)) {
  cat(failures, sep = "\n")
  quit(status = 1)
}
