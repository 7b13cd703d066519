"""``make bench``: every benchmark of the project, each figure beside its baseline measured in the same run.

    python benchmarks/bench.py                 # every suite (< 10 min on 2 cores): table, results.json, docs
    python benchmarks/bench.py --quick           # CI's budget (about 2 min): build/bench-quick.json only
    python benchmarks/bench.py --only compile,cli
    python benchmarks/bench.py --render benchmarks/results.json     # print a results file's table again

The suites (``benchmarks/suite_<name>.py``, each runnable alone) run one after the other, each in a fresh
process so that one suite's imports, threads and servers cannot slow the next:

- ``compile``: ``compile()`` + ``to_yaml()`` of an Axon of N = 10/100/1000 tasks (with sensors and a
  deployer) against hera building and serialising one WorkflowTemplate of N containers; ratio and growth;
- ``cli``: the cold start of every command against ``import hera.workflows`` and bare Python;
- ``router``: predictions through the local router against straight to the real seldon-core microservice,
  at concurrency 1 and 16;
- ``sensor``: a metric crossing a threshold until the retrain task has started, embedded store and real
  Prometheus;
- ``env``: a serving environment built cold with uv against pip;
- ``recommender``: the demo's model against Surprise's SVD and SVD++ on the same folds.

A full run writes ``benchmarks/results.json`` and the table between the ``bench:table`` markers of
``docs/performance.md`` (commit both); ``--quick`` writes ``build/bench-quick.json`` and leaves the docs
alone. A suite that fails is reported, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from figures import ROOT, Figure, progress

SUITES = ("compile", "cli", "router", "sensor", "env", "recommender")
RESULTS = ROOT / "benchmarks" / "results.json"
QUICK_RESULTS = ROOT / "build" / "bench-quick.json"
DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:table -->", "<!-- /bench:table -->"
TIMEOUT = 900  # seconds a suite may take before it is stopped and reported


# ------------------------------------------------------------------------------------------ formatting


def amount(value: float | None, unit: str) -> str:
    """A value in its unit, as a reader wants it: seconds as µs, ms or s; RMSE to 4 places; rates whole."""
    if value is None:
        return ""
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if value < 1:
            return f"{value * 1e3:.3g} ms" if value < 0.01 else f"{value * 1e3:.0f} ms"
        return f"{value:.2f} s"
    if unit == "RMSE":
        return f"{value:.4f}"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    return f"{value:.4g} {unit}"


def ratio_text(figure: Figure) -> str:
    """``figure / baseline``, e.g. ``1.83x``; empty without a baseline."""
    ratio = figure.ratio
    if ratio is None:
        return ""
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x" if ratio < 100 else f"{ratio:.0f}x"


COLUMNS = ("suite", "what", "measured", "baseline", "baseline measured", "ratio", "note")


def rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    return [
        (
            f.suite,
            f.what,
            amount(f.value, f.unit),
            f.baseline or "",
            amount(f.baseline_value, f.unit),
            ratio_text(f),
            f.note,
        )
        for f in figures
    ]


def markdown(results: dict[str, Any]) -> str:
    """The results as the Markdown table of docs/performance.md, with the line that says where and how."""
    figures = [Figure.from_json(f) for f in results["figures"]]
    machine = results["machine"]
    head = (
        f"`make bench` of {results['when'][:10]}{' (--quick)' if results['quick'] else ''}: "
        f"{machine['cores']} cores, {machine['system']} {machine['machine']}, Python {machine['python']}, "
        f"load average {machine['load_before']:.1f} before and {machine['load_after']:.1f} after; "
        f"{results['seconds']:.0f} s in all. Ratio = measured / baseline (for req/s higher is better, "
        "for everything else lower)."
    )
    lines = [head, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows(figures):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    for suite, error in results.get("errors", {}).items():
        lines.append(f"\n**{suite} failed**: {error}")
    return "\n".join(lines)


def show(results: dict[str, Any]) -> None:
    """The table on the terminal (rich), or Markdown when rich is missing."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(markdown(results))
        return
    table = Table(title=f"make bench{' --quick' if results['quick'] else ''}", show_lines=False)
    for column in COLUMNS:
        table.add_column(column, overflow="fold", justify="right" if "measured" in column else "left")
    for row in rows([Figure.from_json(f) for f in results["figures"]]):
        table.add_row(*row)
    console = Console(width=max(160, Console().width))
    console.print(table)
    for suite, error in results.get("errors", {}).items():
        console.print(f"[red]{suite} failed[/red]: {error}")


def update_docs(results: dict[str, Any], docs: Path = DOCS) -> None:
    """Replace the table between the ``bench:table`` markers of ``docs`` with this run's."""
    text = docs.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"bench: {docs} has no {BEGIN} ... {END} markers")
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    docs.write_text(f"{before}{BEGIN}\n{markdown(results)}\n{END}{after}")


def documented_table(docs: Path = DOCS) -> str:
    """What docs/performance.md shows between its markers (for the test that it matches results.json)."""
    text = docs.read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


# ------------------------------------------------------------------------------------------ running


def run_suite(name: str, quick: bool, data_dir: Path | None, scratch: Path) -> tuple[list[Figure], float]:
    """One suite in a fresh process: its figures and wall seconds. Raises RuntimeError when it fails."""
    out = scratch / f"{name}.json"
    command = [sys.executable, str(ROOT / "benchmarks" / f"suite_{name}.py"), "--json", str(out)]
    if quick:
        command.append("--quick")
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    began = time.monotonic()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=TIMEOUT, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"stopped after {TIMEOUT} s") from exc
    seconds = time.monotonic() - began
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"exit status {done.returncode} (its progress and error are above)")
    return [Figure.from_json(f) for f in json.loads(out.read_text())], seconds


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "system": platform.system(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI's budget: fewer runs, smaller inputs")
    parser.add_argument("--only", help=f"comma list of suites (default: all of {', '.join(SUITES)})")
    parser.add_argument(
        "--json",
        type=Path,
        help=f"results file (default {RESULTS.relative_to(ROOT)}, "
        f"--quick: {QUICK_RESULTS.relative_to(ROOT)})",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="an extracted MovieLens 100k (default: MOVIELENS_DIR, else downloaded and cached)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md's table")
    parser.add_argument("--render", type=Path, metavar="RESULTS", help="print the table of a results file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        show(json.loads(args.render.read_text()))
        return 0
    suites = SUITES if not args.only else tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        print(f"bench: no suite named {', '.join(unknown)} (there are: {', '.join(SUITES)})", file=sys.stderr)
        return 2
    target = args.json or (QUICK_RESULTS if args.quick else RESULTS)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "suites": list(suites),
        "machine": machine() | {"load_before": os.getloadavg()[0]},
        "suite_seconds": {},
        "errors": {},
        "figures": [],
    }
    began = time.monotonic()
    scratch = ROOT / "build" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    for name in suites:
        progress(f"suite {name}{' (quick)' if args.quick else ''}")
        try:
            figures, seconds = run_suite(name, args.quick, args.data_dir, scratch)
        except RuntimeError as exc:
            results["errors"][name] = str(exc)
            progress(f"suite {name} failed: {exc}")
            continue
        results["suite_seconds"][name] = round(seconds, 1)
        results["figures"] += [f.to_json() for f in figures]
        progress(f"suite {name}: {len(figures)} figures in {seconds:.0f} s")
    results["seconds"] = round(time.monotonic() - began, 1)
    results["machine"]["load_after"] = os.getloadavg()[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    show(results)
    print(f"\nwritten: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if not args.quick and not args.only and not args.no_docs and not results["errors"]:
        update_docs(results)
        print(f"updated: {DOCS.relative_to(ROOT)} (the table between its bench:table markers)")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
