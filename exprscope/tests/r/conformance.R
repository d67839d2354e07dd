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

cat(sprintf("checked %d values\n", checked))
if (length(failures)) {
  cat(failures, sep = "\n")
  quit(status = 1)
}
