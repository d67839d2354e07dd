"""Where a Chromium CPU profile spent its time: self and total time per function, top N.

    python scripts/profile_summary.py interactions.cpuprofile [N]

For the profiles the browser bench writes with EXPRSCOPE_BENCH_PROFILE=<dir>: heatmap-10k-first,
heatmap-10k-second (the 10⁴-cell heatmaps, click to drawn and their baselines),
interactions-1m (the 10⁶-cell heatmap's regroups and rescales), dual-cold-1m and dual-warm-1m (the
dual view of 10⁶ cells, data fetched or cached), recolour-1m (its recolours); the page's main
thread only, not its workers. EXPRSCOPE_BENCH_ONLY=10k stops the bench after the 10⁴-cell stage.
Total time counts a function once per sample however often it recurs on the stack.
"""

from __future__ import annotations

import json
import sys
from collections import Counter


def summary(path: str, top: int = 25) -> str:
    with open(path) as f:
        profile = json.load(f)
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}
    deltas = profile["timeDeltas"]
    samples = profile["samples"]

    def name(node: dict) -> str:
        frame = node["callFrame"]
        url = frame["url"].rsplit("/", 1)[-1]
        return f"{frame['functionName'] or '(anonymous)'} {url}:{frame['lineNumber'] + 1}"

    self_ms: Counter[str] = Counter()
    total_ms: Counter[str] = Counter()
    # A sample's time is the delta to the next sample
    for sample, delta in zip(samples, [*deltas[1:], 0], strict=True):
        ms = delta / 1000
        node = nodes[sample]
        self_ms[name(node)] += ms
        seen = set()
        current: int | None = sample
        while current is not None:
            label = name(nodes[current])
            if label not in seen:
                total_ms[label] += ms
                seen.add(label)
            current = parent.get(current)
    wall = sum(deltas) / 1000
    lines = [f"{wall:.0f} ms sampled; self time:"]
    lines += [f"  {ms:8.1f} ms  {label}" for label, ms in self_ms.most_common(top)]
    lines.append("total time (with callees):")
    lines += [f"  {ms:8.1f} ms  {label}" for label, ms in total_ms.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
