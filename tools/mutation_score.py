"""The mutation score of each mutated course_utils module, from mutmut's results (``./course mutate``).

    python -m tools.mutation_score            # a table, and exit 1 if engine or checks kill < 90 %
    python -m tools.mutation_score --list     # also every surviving mutant (``mutmut show NAME`` shows it)

mutmut writes one ``mutants/course_utils/<module>.py.meta`` per module: each mutant's exit code.
A mutant is *killed* when some test failed (or timed out: an infinite loop is caught too), it
*survived* when every selected test passed, and it is *not checked* when the run did not reach
it (a run limited to a pattern). The score is killed / (killed + survived); mutants without any
test that reaches them count as survived. "other" counts mutmut's suspicious, skipped and segfault
results (shown, never scored). A module the run did not reach is "not run" and not held to its target.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/mutation_score.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.course import REPO_ROOT

#: The README's target: at least this share of mutants killed in these modules.
TARGETS = {"engine": 0.90, "checks": 0.90}
_KILLED = {1, 3, 36, 24, -24, 152, 255}
_SURVIVED = {0, 5, 33}


def module_scores(root: Path = REPO_ROOT) -> dict[str, dict[str, object]]:
    """For each module with mutmut results: counts of killed, survived and not checked, and the survivors."""
    scores: dict[str, dict[str, object]] = {}
    for meta in sorted((root / "mutants" / "course_utils").glob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        kinds = Counter(
            "not checked"
            if code is None
            else "killed"
            if code in _KILLED
            else "survived"
            if code in _SURVIVED
            else "other"
            for code in codes.values()
        )
        survivors = sorted(name for name, code in codes.items() if code in _SURVIVED)
        scores[meta.name.removesuffix(".py.meta")] = {**kinds, "survivors": survivors}
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="list every surviving mutant")
    args = parser.parse_args(argv)
    scores = module_scores()
    if not scores:
        print("no mutmut results under mutants/: run ./course mutate first", file=sys.stderr)
        return 2
    failed = []
    print(f"{'module':<12} {'killed':>7} {'survived':>9} {'other':>6} {'not checked':>12} {'score':>7}  target")
    for module, counts in scores.items():
        killed, survived = int(counts.get("killed", 0)), int(counts.get("survived", 0))
        tested = killed + survived
        target = TARGETS.get(module)
        if tested == 0:  # mutmut lists every module even when a pattern limited the run to others
            verdict, shown = "not run", f"{'-':>7}"
        else:
            score = killed / tested
            shown = f"{score:>7.1%}"
            verdict = "" if target is None else f">= {target:.0%}" + (" ok" if score >= target else " MISSED")
            if target is not None and score < target:
                failed.append(module)
        print(f"{module:<12} {killed:>7} {survived:>9} {int(counts.get('other', 0)):>6} "
              f"{int(counts.get('not checked', 0)):>12} {shown}  {verdict}")
        if args.list:
            for name in counts["survivors"]:  # type: ignore[attr-defined]
                print(f"    survived: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
