# Build exprscope/data/kang_seurat.rds: a Seurat 4 object with a real integrated assay, made
# by Seurat's own IntegrateData from the Kang et al. 2018 PBMC data (ctrl vs IFN-beta stim).
# It is the R kernel's test and demo object (exprscope/data/README.md).
#
# Usage, from the repository root (R with Seurat 4.3; Debian: r-cran-seurat):
#   Rscript scripts/build_kang_seurat.R [input.RData] [output.rds]
# Defaults: ../shared/data/kang2018-pbmc-ifnb-2k.RData and exprscope/data/kang_seurat.rds.
# Deterministic (fixed seeds); the input's sha256 is checked.

suppressPackageStartupMessages({
  library(Seurat)
  library(SeuratObject)
})

args <- commandArgs(trailingOnly = TRUE)
input <- if (length(args) >= 1) args[1] else "../shared/data/kang2018-pbmc-ifnb-2k.RData"
output <- if (length(args) >= 2) args[2] else "exprscope/data/kang_seurat.rds"
expected_sha256 <- "d85a18ce8ec9dcb4ac86c8e195ed53ff893c5952a7d6bf70035a17856c9dc0ef"

# Few integration features keep the dense integrated matrices (genes x cells doubles, which
# compress badly) small enough for a file of a few MB; enough for a real IntegrateData run.
N_INTEGRATION_FEATURES <- 400
N_SCALED_FEATURES <- 200
DIMS <- 1:20

sha256 <- system2("sha256sum", shQuote(input), stdout = TRUE)
if (!startsWith(sha256, expected_sha256)) stop("Unexpected input file (sha256): ", input)

set.seed(1)
data <- new.env()
load(input, envir = data)
datasets <- list(ctrl = data$pbmc.ctrl, stim = data$pbmc.stim)

objects <- lapply(names(datasets), function(name) {
  counts <- datasets[[name]]
  obj <- CreateSeuratObject(counts = counts, project = name, min.cells = 0, min.features = 0)
  obj$stim <- factor(name, levels = names(datasets))
  obj <- NormalizeData(obj, verbose = FALSE)
  FindVariableFeatures(obj, nfeatures = N_INTEGRATION_FEATURES, verbose = FALSE)
})
names(objects) <- names(datasets)

features <- SelectIntegrationFeatures(objects, nfeatures = N_INTEGRATION_FEATURES, verbose = FALSE)
anchors <- FindIntegrationAnchors(objects, anchor.features = features, dims = DIMS, verbose = FALSE)
kang <- IntegrateData(anchors, dims = DIMS, verbose = FALSE)

DefaultAssay(kang) <- "integrated"
# Scale only the most variable integrated genes: scale.data then holds another gene set than
# data, as in many real objects (and keeps the file small).
kang <- ScaleData(kang, features = head(VariableFeatures(kang), N_SCALED_FEATURES), verbose = FALSE)
kang <- RunPCA(kang, npcs = 30, features = head(VariableFeatures(kang), N_SCALED_FEATURES),
  seed.use = 42, verbose = FALSE)
kang <- FindNeighbors(kang, dims = DIMS, verbose = FALSE)
kang <- FindClusters(kang, resolution = 0.5, random.seed = 0, verbose = FALSE)
if (requireNamespace("uwot", quietly = TRUE)) {
  kang <- RunUMAP(kang, dims = DIMS, seed.use = 42, verbose = FALSE)
}
kang <- RunTSNE(kang, dims = DIMS, seed.use = 1)

# Gene-level views (heatmaps, dual expression) read the log-normalised RNA assay by default.
DefaultAssay(kang) <- "RNA"
kang@commands <- list()
Misc(kang, "exprscope") <- list(
  source = "Kang et al. 2018 (GSE96583) via harmony's data/pbmc_stim.RData",
  built_by = "scripts/build_kang_seurat.R",
  seurat = as.character(packageVersion("Seurat")),
  integration_features = N_INTEGRATION_FEATURES
)

saveRDS(kang, output, compress = "xz")
cat(sprintf(
  "%s: %d cells x %d genes, integrated %d genes, clusters %d, %.1f MB\n", output, ncol(kang),
  nrow(kang), nrow(kang[["integrated"]]), nlevels(kang$seurat_clusters),
  file.size(output) / 1e6
))
