#!/usr/bin/env bash
# Install the Debian packages exprscope's tests and demo need, only those missing.
#   chromium        real browser for the Galata UI tests (Playwright cannot download one here)
#   poppler-utils   pdfinfo/pdftotext, to check exported PDFs in tests
#   fonts-dejavu    stable fonts, so UI screenshots compare across machines
#   nodejs, npm     only if no Node.js >= 18 is on PATH (needed to build the extension)
#   R packages      R, IRkernel, Seurat 4, SeuratObject, SingleCellExperiment, jsonlite,
#                   base64enc: the R kernel side (exprscope/kernel/r) and its tests;
#                   DESeq2: the reference that pseudobulk DE (pydeseq2) is checked against
# Usage: scripts/install-system-deps.sh [--ui]   (--ui adds the browser test packages)
set -euo pipefail

want=()
need_node() {
  ! command -v node >/dev/null 2>&1 ||
    [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]
}
if need_node; then want+=(nodejs npm); fi
for pkg in r-base-core r-cran-irkernel r-cran-seurat r-cran-seuratobject \
  r-bioc-singlecellexperiment r-cran-jsonlite r-cran-base64enc r-bioc-deseq2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || want+=("$pkg")
done
if [ "${1:-}" = "--ui" ]; then
  command -v chromium >/dev/null 2>&1 || want+=(chromium)
  command -v pdfinfo >/dev/null 2>&1 || want+=(poppler-utils)
  [ -d /usr/share/fonts/truetype/dejavu ] || want+=(fonts-dejavu-core)
fi
if [ ${#want[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing Debian packages: ${want[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "Need root (or sudo) to install: ${want[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
