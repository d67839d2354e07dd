"""Run the exprscope benchmark and print its figures as ONE JSON object, last.

    python bench/run.py              # full: 10⁴, 10⁵ and 10⁶ cells × 20,000 genes
    EXPRSCOPE_BENCH_SIZE=smoke python bench/run.py   # 20,000 cells, in about a minute

Starts a JupyterLab server (port EXPRSCOPE_BENCH_PORT, default 8899; cross-origin isolated
unless EXPRSCOPE_BENCH_ISOLATION=0) and headless chromium
through Playwright (bench/playwright.bench.config.js), reads what bench/tests/bench.spec.ts
measured, runs the kernel-only benchmarks (bench/kernel_bench.py, bench/outofcore_bench.py:
10⁷ cells through Dask, EXPRSCOPE_BENCH_OOC_CELLS), derives the ratios and adds the machine. With ``--check`` it fails unless every
key is present and finite (the smoke run in ``make test``: behaviour, not speed).
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UI_TESTS = ROOT / "ui-tests"
#: The keys issue 7 asks for, with their goals (≤ or ≥).
GOALS = {
    # issue 16: against the same genes sent dense as bare comm buffers (sparse transfer counts)
    "transfer_ratio_vs_bare_comm": (">=", 0.9),
    "fetch_bytes_ratio_vs_nnz": ("<=", 1.2),
    "compute_gb_per_s": (">=", 4.0),
    "heatmap_1m_s": None,
    # issue 16: the heatmap at three sizes; the 10⁴-cell one is the page's first plot
    "heatmap_10k_ratio_vs_kernel_baseline": ("<=", 1.0),
    "heatmap_100k_ratio_vs_kernel_baseline": ("<=", 1.0),
    "heatmap_1m_ratio_vs_kernel_baseline": ("<=", 1.0),
    "interaction_p95_ms_1m": ("<=", 50.0),
    "scatter_1m_first_frame_s": ("<=", 1.5),
    # issue 16: the cold dual view (fetch included), and its longest main-thread task
    "dual_cold_1m_s": ("<=", 1.0),
    "dual_cold_1m_longest_task_ms": ("<=", 50.0),
    "markers_1m_ratio_vs_scanpy": ("<=", 0.1),
    "browser_mem_ratio": ("<=", 2.0),
    # issue 15: condition comparisons, kernel only (bench/kernel_bench.py)
    "pseudobulk_de_1m_ratio_vs_by_hand": ("<=", 1.0),
    "wilcoxon_markers_100k_ratio_vs_scanpy": ("<=", 0.5),
    # issue 16: 10⁷ cells out of core, Zarr through Dask on a LocalCluster (bench/outofcore_bench.py)
    "outofcore_heatmap_10m_s": None,
    "outofcore_heatmap_10m_ratio_vs_aggregate": ("<=", 1.0),
    "outofcore_kernel_rss_gb_10m": ("<=", 2.0),
    # the same from a TileDB-SOMA experiment, its tasks on the same LocalCluster
    "outofcore_soma_heatmap_10m_s": None,
    "outofcore_soma_10m_ratio_vs_aggregate": ("<=", 1.0),
    "outofcore_soma_kernel_rss_gb_10m": ("<=", 2.0),
}


# The heatmap's three sizes and the bench stage that measures each
HEATMAP_STAGES = (("10k", "tiny_heatmap"), ("100k", "small_heatmap"), ("1m", "large_heatmap"))


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "os": platform.platform(),
        # Other work on the machine slows the run down: say how busy it was.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def figures(raw: dict) -> dict:
    """The issue's keys, from the raw measurements; the details stay beside them."""
    th, tt = raw["tiny_heatmap"], raw["tiny_transfer"]
    lt, ht, lh, sh = (
        raw["large_transfer"],
        raw["large_heatmap"],
        raw["large_markers"],
        raw["small_heatmap"],
    )
    large, small, tiny = raw["large_build"], raw["small_build"], raw["tiny_build"]
    out = {
        "transfer_ratio_vs_bare_comm": lt["ratio"],
        # wire bytes of the 50-gene fetch / (nnz × 8): sparse transfer's cost per non-zero
        "fetch_bytes_ratio_vs_nnz": lt["bytes_ratio_vs_nnz"],
        "compute_gb_per_s": raw["compute"]["gb_per_s"],
        "heatmap_1m_s": ht["seconds"],
        "heatmap_1m_ratio_vs_kernel_baseline": ht["ratio"],
        "heatmap_1m_path": ht["path"],
        "interaction_p95_ms_1m": raw["interactions"]["p95_ms"],
        "scatter_1m_first_frame_s": raw["scatter"]["first_frame_s"],
        "dual_cold_1m_s": raw["scatter"]["click_to_first_frame_s"],
        "dual_cold_1m_longest_task_ms": raw["long_tasks"]["dual_cold_1m"]["max_ms"],
        "markers_1m_ratio_vs_scanpy": lh["ratio"],
        "browser_mem_ratio": raw["browser_memory"]["ratio"],
        # the 10⁴-cell object: its heatmap is the page's first plot (Plotly's script runs then)
        "transfer_ratio_vs_bare_comm_10k": tt["ratio"],
        "fetch_bytes_ratio_vs_nnz_10k": tt["bytes_ratio_vs_nnz"],
        "heatmap_10k_s": th["seconds"],
        "heatmap_10k_ratio_vs_kernel_baseline": th["ratio"],
        "heatmap_10k_path": th["path"],
        # the 10⁵-cell object
        "transfer_ratio_vs_bare_comm_100k": raw["small_transfer"]["ratio"],
        "fetch_bytes_ratio_vs_nnz_100k": raw["small_transfer"]["bytes_ratio_vs_nnz"],
        "heatmap_100k_s": sh["seconds"],
        "heatmap_100k_ratio_vs_kernel_baseline": sh["ratio"],
        "heatmap_100k_path": sh["path"],
        "markers_100k_ratio_vs_scanpy": raw["small_markers"]["ratio"],
        "pseudobulk_de_1m_ratio_vs_by_hand": raw["kernel_compare"]["pseudobulk_de"]["ratio"],
        "wilcoxon_markers_100k_ratio_vs_scanpy": raw["kernel_compare"]["wilcoxon_markers"]["ratio"],
        "condition_comparisons": raw["kernel_compare"],
        "outofcore_heatmap_10m_s": raw["outofcore"]["seconds"],
        "outofcore_heatmap_10m_ratio_vs_aggregate": raw["outofcore"]["ratio"],
        "outofcore_kernel_rss_gb_10m": raw["outofcore"]["kernel_peak_rss_gb"],
        "outofcore_soma_heatmap_10m_s": raw["outofcore"]["soma"]["seconds"],
        "outofcore_soma_10m_ratio_vs_aggregate": raw["outofcore"]["soma"]["ratio"],
        "outofcore_soma_kernel_rss_gb_10m": raw["outofcore"]["soma"]["kernel_peak_rss_gb"],
        "outofcore_heatmap": raw["outofcore"],
        # baselines and details measured in the same run
        "baselines": {
            "bare_comm_mb_per_s_1m": lt["bare_mb_per_s"],
            "fetch_mb_per_s_1m": lt["fetch_mb_per_s"],
            "fetch_bytes_1m": lt["bytes"],
            "fetch_dense_bytes_1m": lt["dense_bytes"],
            "fetch_nnz_1m": lt["nnz"],
            "fetch_ms_1m": lt["fetch_ms"],
            "bare_comm_dense_bytes_ms_1m": lt["bare_ms"],
            "bare_comm_same_bytes_ms_1m": lt["bare_same_bytes_ms"],
            "transfer_ratio_vs_bare_comm_same_bytes_1m": lt["ratio_same_bytes"],
            "kernel_aggregate_table_s_1m": ht["baseline_s"],
            "kernel_aggregate_compute_s_1m": ht["baseline_kernel_s"],
            "kernel_aggregate_table_bytes": ht["baseline_bytes"],
            "scanpy_rank_genes_groups_s_1m": lh["scanpy_s"],
            "kernel_aggregate_table_s_100k": sh["baseline_s"],
            "kernel_aggregate_table_s_10k": th["baseline_s"],
            "scanpy_rank_genes_groups_s_100k": raw["small_markers"]["scanpy_s"],
        },
        "details": {
            "markers_1m_s": lh["seconds"],
            "markers_1m_kernel_stats_s": lh["request_s"],
            "markers_1m_browser_rank_s": lh["rank_s"],
            "markers_1m_genes": lh["genes"],
            "markers_1m_agreement_with_scanpy": lh["agreement"],
            "markers_100k_s": raw["small_markers"]["seconds"],
            "markers_100k_genes": raw["small_markers"]["genes"],
            "markers_100k_agreement_with_scanpy": raw["small_markers"]["agreement"],
            "scatter_1m_click_to_first_frame_s": raw["scatter"]["click_to_first_frame_s"],
            "interaction_median_ms_1m": raw["interactions"]["median_ms"],
            "interaction_p95_by_kind_ms_1m": raw["interactions"]["p95_by_kind_ms"],
            "interaction_samples": raw["interactions"]["samples"],
            "heatmap_1m_comm_ops": ht["ops"],
            "heatmap_1m_wire_bytes": ht["wire_bytes"],
            "browser_memory_bytes": raw["browser_memory"],
            "browser_memory_method": (
                "performance.measureUserAgentSpecificMemory(): the bytes attributed to the "
                "page's window (JS heap, array buffers and SharedArrayBuffers), workers "
                "apart"
                if raw["browser_memory"]["after"]["method"] == "measureUserAgentSpecificMemory"
                else "CDP Runtime.getHeapUsage (usedSize + backingStorageSize), page target"
            )
            + "; after HeapProfiler.collectGarbage, around the cold 10^6-cell dual view (fetch "
            "to correlations shown), over the websocket bytes received",
            "browser_mem_cache_ratio_1m": raw["browser_memory"]["cache_ratio"],
            "browser_mem_heatmap_bytes_1m": raw["browser_memory"]["heatmap"]["after"]["total"]
            - raw["browser_memory"]["heatmap"]["before"]["total"],
            "main_thread_long_tasks_1m": raw["long_tasks"],
            "main_thread_long_tasks_first_plot_10k": raw["first_plot_long_tasks"],
            "main_thread_long_tasks_heatmap_100k": raw["small_heatmap_long_tasks"],
            # the 10⁴-cell heatmap again with other genes: the page's first-plot costs paid
            "heatmap_10k_second_plot_s": raw["tiny_heatmap_again"]["seconds"],
            "heatmap_10k_second_plot_phases_ms": raw["tiny_heatmap_again"]["phases_ms"],
            # Heatmap times run from the click on "Open heatmap" to the first frame drawn (page
            # clock); these run from "Add genes", where the sidebar starts loading the genes
            # The kernel baseline drawn too (the same table as a bare Plotly heatmap, same
            # bundle): the heatmap against "aggregate in the kernel, ship the table, draw it"
            "heatmap_ratio_vs_kernel_table_drawn": {
                size: raw[stage]["ratio_vs_drawn_baseline"] for size, stage in HEATMAP_STAGES
            },
            # Where each heatmap's wait went: the product's User Timing marks, ms after the click
            "heatmap_phases_ms": {size: raw[stage]["phases_ms"] for size, stage in HEATMAP_STAGES},
            # The same for the dual view at 10⁶ cells, cold (data fetched) and warm (cached)
            "dual_phases_ms_1m": raw["scatter"].get("phases_ms"),
            "heatmap_paste_to_drawn_s": {
                size: raw[stage]["paste_to_drawn_s"] for size, stage in HEATMAP_STAGES
            },
            "heatmap_10k_second_plot_ratio_vs_kernel_baseline": raw["tiny_heatmap_again"]["ratio"],
            "main_thread_long_tasks_heatmap_10k_second_plot": raw["tiny_heatmap_again_long_tasks"],
            "main_thread_long_tasks_method": "PerformanceObserver 'longtask' (tasks over 50 ms "
            "on the page's main thread) per stage: the cold heatmap (clicks to drawn), its 24 "
            "regroups and rescales, the cold and warm dual view (to correlations shown), and "
            "its recolours; long_frames and top_scripts from the Long Animation Frames API "
            "(frames over 50 ms: the script entry points that ran longest, summed, with the "
            "style and layout they forced; render = style, layout and paint after the scripts); "
            "first_plot_10k: the same for the page's first plot (the 10^4-cell heatmap, "
            "Plotly's script loaded then)",
            "cross_origin_isolated": raw["worker_input"]["cross_origin_isolated"],
            "worker_input_bytes_dual_cold_1m": raw["worker_input"]["dual_cold_1m"],
            "fetch_decodings": raw["worker_input"]["fetch_decodings"],
            "compute_bytes": raw["compute"]["bytes"],
            "kernel_memory": raw["kernel_memory"],
        },
        "sizes": {
            "large": {
                k: large.get(k)
                for k in (
                    "n_cells",
                    "n_genes",
                    "requested_genes",
                    "reduced_for_memory",
                    "layout",
                    "nnz",
                    "zero_fraction",
                )
            },
            "small": {
                k: small[k] for k in ("n_cells", "n_genes", "layout", "nnz", "zero_fraction")
            },
            "tiny": {k: tiny[k] for k in ("n_cells", "n_genes", "layout", "nnz", "zero_fraction")},
            "heatmap_genes": lt["genes"],
            "build_s": {
                "large": large["build_s"],
                "small": small["build_s"],
                "tiny": tiny["build_s"],
            },
            "large_build_method": large["method"],
        },
        "size": raw["size"],
        "machine": {**machine(), "chromium": raw["chromium"], **raw["kernel_versions"]},
        "bench_wall_s": raw["wall_s"],
    }
    out["goals"] = {
        key: {
            "goal": f"{op} {limit}",
            "met": bool(out[key] >= limit if op == ">=" else out[key] <= limit),
        }
        for key, goal in GOALS.items()
        if goal is not None
        for op, limit in [goal]
    }
    return out


def check(out: dict) -> list[str]:
    """Keys that are missing or not finite numbers."""
    bad = []
    for key in GOALS:
        value = out.get(key)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            bad.append(f"{key}={value!r}")
    return bad


class BenchFailed(Exception):
    """A kernel-only bench script exited non-zero (its exit code is ``args[0]``)."""


def kernel_only(script: str, env: dict) -> dict:
    """Run one kernel-only bench script (no browser); its last stdout line is its JSON."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"bench: {script} failed (exit {done.returncode})", file=sys.stderr)
        raise BenchFailed(done.returncode)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    env = dict(os.environ)
    env["NODE_PATH"] = str(UI_TESTS / "node_modules")
    # The server command (`jupyter lab`) and jlpm come from the project's venv, as in make.
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("EXPRSCOPE_BENCH_PORT", "8899")
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "raw.json"
        env["EXPRSCOPE_BENCH_OUT"] = str(result_file)
        jlpm = (
            [str(ROOT / ".venv" / "bin" / "jlpm")]
            if (ROOT / ".venv/bin/jlpm").exists()
            else ["jlpm"]
        )
        command = [
            *jlpm,
            "playwright",
            "test",
            "-c",
            str(ROOT / "bench" / "playwright.bench.config.js"),
        ]
        # Playwright's progress goes to stderr, so that stdout ends with the one JSON object.
        code = subprocess.call(command, cwd=UI_TESTS, env=env, stdout=sys.stderr)
        if code != 0 or not result_file.exists():
            print(f"bench: Playwright failed (exit {code})", file=sys.stderr)
            return code or 1
        raw = json.loads(result_file.read_text())
    # Kernel-only figures (no browser): condition comparisons vs the hand-written pipelines
    try:
        raw["kernel_compare"] = kernel_only("kernel_bench.py", env)
        # Out of core: 10⁷ cells (EXPRSCOPE_BENCH_OOC_CELLS) through Dask on a LocalCluster
        raw["outofcore"] = kernel_only("outofcore_bench.py", env)["outofcore_heatmap"]
    except BenchFailed as failed:
        return failed.args[0]
    out = figures(raw)
    out["machine"]["load_average_at_start"] = load_at_start
    out["run_wall_s"] = time.perf_counter() - started
    print(json.dumps(out))
    if "--check" in sys.argv:
        bad = check(out)
        if bad:
            print(f"bench: missing or non-finite figures: {', '.join(bad)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
