"""Did a change make anything slower? Two commits on one machine, back to back, alternating.

    python benchmarks/before_after.py 6edef01 HEAD            # the digits run once each, throughput 3x each
    python benchmarks/before_after.py 6edef01 HEAD --repeats 5 --skip-run

Each commit is checked out clean (``git archive``) into a temporary folder and installed, without
dependencies, into its own copy of this virtual environment, so both sides run the same torch and
libraries and only the project's code differs. Then, alternating before/after:
``dfard-pipeline run configs/digits.yaml`` (that commit's config; stage times from its run.json,
the verified accuracies to show the behaviour is the same) and ``benchmarks/throughput.py --pairs
digits --precisions fp32`` (student steps/s, contiguous and channels_last) ``--repeats`` times.
Nothing else should run meanwhile: the results file records the machine and says so.
Writes benchmarks/results/before_after_BEFORE_AFTER.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from machine import command_line, describe, machine_info  # noqa: E402
from run_folder import stage_seconds  # noqa: E402

STAGES = ("teacher", "distill", "export", "verify", "report")


def _sha(commit: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", commit], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def _install(sha: str, work: Path) -> tuple[Path, Path]:
    """(checkout, python) for commit ``sha``: a clean tree and a copy of this venv holding it."""
    tree, env = work / f"tree_{sha}", work / f"env_{sha}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    shutil.copytree(sys.prefix, env, symlinks=True)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(tree)],
                   check=True, cwd=work)
    return tree, python


def _digits_run(tree: Path, python: Path, out: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([str(python), "-m", "dfard_pipeline", "run", "configs/digits.yaml", "--out", str(out),
                           "--quiet"], cwd=tree, capture_output=True, text=True)
    whole = time.perf_counter() - started
    run = json.loads((out / "run.json").read_text())
    verified = {}
    for path in sorted((out / "verify").glob("*/verify.json")):
        data = json.loads(path.read_text())
        verified[path.parent.name] = {"passed": data["passed"], "clean": data["metrics"]["clean_accuracy"],
                                      "robust": data["metrics"]["robust_accuracy"]}
    return {"exit": done.returncode, "whole_s": whole, "verified": verified,
            "stages": {name: stage_seconds(run["stages"].get(name, {})) for name in STAGES}}


def _throughput(tree: Path, python: Path, json_path: Path) -> dict[str, float]:
    subprocess.run([str(python), str(tree / "benchmarks" / "throughput.py"), "--pairs", "digits", "--precisions",
                    "fp32", "--json", str(json_path)], cwd=tree, check=True, capture_output=True)
    rows = json.loads(json_path.read_text())["rows"]
    return {row["memory_format"]: row["images_per_s"] for row in rows}


def _markdown(result: dict) -> str:
    before, after = result["before"], result["after"]
    lines = [f"# Before and after: {before['commit']} -> {after['commit']}, one machine, back to back", "",
             f"Command: `{result['command']}`  ", describe(result["machine"]), "",
             f"Meanwhile: {result['note'] or 'nothing else ran (not checked by the script)'}.", "",
             "Each side is a clean checkout installed into its own copy of one virtual environment (same torch and "
             "libraries). Runs alternate before, after, before, after.", ""]
    if before.get("run"):
        lines += ["`dfard-pipeline run configs/digits.yaml --quiet` (stage seconds from run.json, 1 s resolution; "
                  "whole run timed by the script):", "",
                  "| | " + " | ".join(STAGES) + " | whole run | exit | verified (clean / robust) |",
                  "| --- | " + " | ".join("---" for _ in STAGES) + " | --- | --- | --- |"]
        for side in (before, after):
            run = side["run"]
            stages = " | ".join("-" if run["stages"][s] is None else f"{run['stages'][s]:.0f}" for s in STAGES)
            verified = "; ".join(f"{k}: {'PASSED' if v['passed'] else 'FAILED'} {v['clean']:.2%} / {v['robust']:.2%}"
                                 for k, v in run["verified"].items())
            lines.append(f"| {side['commit']} | {stages} | {run['whole_s']:.0f} | {run['exit']} | {verified} |")
        lines.append("")
    lines += [f"`benchmarks/throughput.py --pairs digits --precisions fp32`, {result['repeats']} times per side "
              "(digits student step, images/s):", "",
              "| layout | " + " | ".join(f"{s['commit']}: each run (median)" for s in (before, after)) + " | after / "
              "before (medians) |", "| --- | --- | --- | --- |"]
    for layout in ("contiguous", "channels_last"):
        cells = []
        for side in (before, after):
            values = [r[layout] for r in side["throughput"]]
            cells.append(", ".join(f"{v:.0f}" for v in values) + f" ({statistics.median(values):.0f})")
        ratio = (statistics.median(r[layout] for r in after["throughput"])
                 / statistics.median(r[layout] for r in before["throughput"]))
        lines.append(f"| {layout} | {cells[0]} | {cells[1]} | {ratio:.2f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs per side (default 3)")
    parser.add_argument("--skip-run", action="store_true", help="throughput only, no digits run")
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    args = parser.parse_args()
    from dfard_pipeline.atomic import write_json_atomic, write_text_atomic

    sides = {"before": {"commit": _sha(args.before)}, "after": {"commit": _sha(args.after)}}
    with tempfile.TemporaryDirectory(prefix="before_after_") as tmp:
        work = Path(tmp)
        installed = {}
        for key, side in sides.items():
            print(f"installing {side['commit']}", file=sys.stderr, flush=True)
            installed[key] = _install(side["commit"], work)
            side["throughput"] = []
        if not args.skip_run:
            for key, side in sides.items():
                print(f"digits run at {side['commit']}", file=sys.stderr, flush=True)
                side["run"] = _digits_run(*installed[key], work / f"run_{side['commit']}")
        for repeat in range(args.repeats):
            for key, side in sides.items():
                print(f"throughput at {side['commit']} ({repeat + 1}/{args.repeats})", file=sys.stderr, flush=True)
                side["throughput"].append(_throughput(*installed[key], work / f"tp_{key}_{repeat}.json"))
    result = {"command": command_line(), "machine": machine_info(), "note": args.note, "repeats": args.repeats,
              **sides}
    stem = HERE / "results" / f"before_after_{sides['before']['commit']}_{sides['after']['commit']}"
    write_json_atomic(stem.with_suffix(".json"), result)
    write_text_atomic(stem.with_suffix(".md"), _markdown(result))
    print(f"wrote {stem}.md", file=sys.stderr)


if __name__ == "__main__":
    main()
