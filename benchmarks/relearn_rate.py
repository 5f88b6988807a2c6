"""The measurement behind the default ``--relearn-learning-rate`` (docs/relearning.md): for every
relearned run of a results folder, survival on the **dev** items (never the reported test items) and
the WikiText-2 perplexity of each stage on the dev windows. Run candidate rates first, e.g.::

    for lr in 1e-5 1e-4 1e-3; do debiasbench run --method mlm-unlearn --model smollm2-135m-q4 --domain gender \\
      --preset quick --threads 1 --metrics crows-pairs,perplexity --eval-limit 200 --relearn-steps 20 \\
      --relearn-learning-rate $lr --results-dir RESULTS; done
    python benchmarks/relearn_rate.py RESULTS
"""

from __future__ import annotations

import json
import math
import sys

from debiasbench.results.items import load_items

from debiasbench.statistics.paired import aligned, cell_stats, side, weights_seed
from debiasbench.statistics.survival import cell_survival
from debiasbench.results.tables import read_table

MEASURES = ("crows-pairs.score", "crows-pairs.margin")


def main(results: str) -> None:
    runs = {r["run_id"]: json.loads(r["config"]) for r in read_table(results, "runs").to_pylist()}
    spec = {r["measure"]: r for r in read_table(results, "metrics").to_pylist()}
    items = load_items(results, set(runs), "dev")
    for run, config in sorted(runs.items(), key=lambda kv: kv[1]["relearn_learning_rate"]):
        relearn = config["resolved"].get("relearn", {})
        print(f"lr {config['relearn_learning_rate']:g}: benign loss {relearn.get('loss_first', float('nan')):.3f} -> "
              f"{relearn.get('loss_last', float('nan')):.3f} over {relearn.get('steps')} steps")
        windows = items.get((run, "perplexity.wikitext2", "all"), {})
        if windows:  # exp(summed window NLL / scored tokens) over the dev windows alone
            ppl = {s: math.exp(sum(w["value"] for w in ws) / sum(w["weight"] for w in ws)) for s, ws in windows.items()}
            print(f"  WikiText-2 perplexity, {len(windows['before'])} dev windows: "
                  + " -> ".join(f"{ppl[s]:.2f}" for s in ("before", "after", "relearned") if s in ppl))
        for (r, measure, domain), stages in sorted(items.items()):
            if r != run or measure not in MEASURES or set(stages) != {"before", "after", "relearned"}:
                continue
            pair = aligned(side(stages["before"]), side(stages["after"]), f"{measure} {domain}")
            seed = weights_seed(measure, domain)
            stats = cell_stats([pair], spec[measure]["aggregate"], spec[measure]["ideal"], spec[measure]["better"], seed=seed)
            if stats is None:
                continue
            s = cell_survival(pair[0], [pair[1]], [side(stages["relearned"])], spec[measure]["aggregate"], stats.delta_ci, seed)
            print(f"  dev {measure:20s} {domain:9s} n={stats.n:4d}  {stats.before:7.3f} -> {stats.after:7.3f} -> "
                  f"{s.relearned:7.3f}  change {stats.delta:+.3f} [{stats.delta_ci[0]:+.3f}, {stats.delta_ci[1]:+.3f}]  kept {s.text()}")


if __name__ == "__main__":
    main(sys.argv[1])
