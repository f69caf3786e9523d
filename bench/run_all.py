"""Run every benchmark in bench/ and print one table.

    python bench/run_all.py                    # all of them
    python bench/run_all.py call_intake …      # only these
    BENCH_QUICK=1 python bench/run_all.py      # smaller runs
    python bench/run_all.py --markdown out.md  # also write the table as Markdown

Each benchmark (see bench/README.md) is a module whose ``main()`` returns a dict of figures. It
runs in its OWN subprocess (one crash or leak cannot spoil the next), one after the other so
they never compete for the 2 cores; its progress streams through, its figures come back on a
``BENCH_RESULT {json}`` line. A benchmark that fails is reported in the table and the exit code.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.common import RESULT_MARKER, machine  # noqa: E402

NOT_BENCHMARKS = {"common", "run_all", "__init__"}
# Runs one module's main() and prints its figures on the marker line.
CHILD = (
    "import importlib, json, sys; sys.path.insert(0, {root!r}); "
    "m = importlib.import_module('bench.{name}'); r = m.main(); "
    "print({marker!r} + json.dumps(r if isinstance(r, dict) else {{'result': r}}, default=str), flush=True)"
)


def discover() -> list[str]:
    """Modules in bench/ that define a top-level ``main`` (parsed, not imported)."""
    names = []
    for path in sorted(BENCH_DIR.glob("*.py")):
        if path.stem in NOT_BENCHMARKS or path.stem.startswith("_"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        if any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "main" for n in tree.body
        ):
            names.append(path.stem)
    return names


def targets_of(name: str) -> dict[str, str]:
    """The optional ``TARGETS`` dict literal of a module, read without importing it."""
    tree = ast.parse((BENCH_DIR / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TARGETS" for t in node.targets):
            try:
                return {str(k): str(v) for k, v in ast.literal_eval(node.value).items()}
            except ValueError:
                return {}
    return {}


def run_one(name: str, timeout_s: float) -> tuple[dict | None, str, float]:
    """(figures or None, error text, seconds)."""
    started = time.perf_counter()
    cmd = [sys.executable, "-c", CHILD.format(root=str(BENCH_DIR.parent), name=name, marker=RESULT_MARKER)]
    proc = subprocess.Popen(
        cmd,
        cwd=BENCH_DIR.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    figures, tail = None, []
    deadline = time.monotonic() + timeout_s
    try:
        for line in proc.stdout:
            if line.startswith(RESULT_MARKER):
                figures = json.loads(line[len(RESULT_MARKER) :])
                continue
            sys.stderr.write(f"  [{name}] {line}")
            tail = ([*tail, line])[-15:]
            if time.monotonic() > deadline:
                proc.kill()
                return None, f"timed out after {timeout_s:.0f}s", time.perf_counter() - started
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, f"timed out after {timeout_s:.0f}s", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or figures is None:
        return None, f"exit {proc.returncode}: " + "".join(tail[-3:]).strip(), seconds
    return figures, "", seconds


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return str(value)


def table_rows(results: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, (figures, error, seconds) in results.items():
        if figures is None:
            rows.append((name, "FAILED", error[:120], ""))
            continue
        targets = targets_of(name)
        for key, value in figures.items():
            rows.append((name, key, fmt(value), targets.get(key, "")))
        rows.append((name, "(run time)", f"{seconds:.0f} s", ""))
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("benchmark", "figure", "value", "target")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False))
    print(line)
    print("-" * len(line))
    previous = None
    for r in rows:
        name = r[0] if r[0] != previous else ""
        previous = r[0]
        print("  ".join([name.ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2]), r[3]]))


def markdown(rows, info: dict) -> str:
    out = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} RAM; PostgreSQL {info['postgresql']};"
        f" Python {info['python']}; load average before the run {info.get('loadavg', '?')}.",
        "",
        "| benchmark | figure | value | target |",
        "| --- | --- | ---: | --- |",
    ]
    out += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in rows]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every bench/*.py and print one table")
    parser.add_argument("only", nargs="*", help="benchmark names (default: all)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    a = parser.parse_args(argv)
    names = discover()
    if a.list:
        print("\n".join(names))
        return 0
    unknown = [n for n in a.only if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {names}")
    names = [n for n in names if not a.only or n in a.only]
    info = machine()
    info["loadavg"] = (
        " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    )
    print(
        f"machine: {info['cpu']} · {info['cores']} cores · {info['memory']} · PostgreSQL {info['postgresql']}"
        f" · load {info['loadavg']}" + (" · BENCH_QUICK" if os.environ.get("BENCH_QUICK") else ""),
        flush=True,
    )
    results = {}
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        results[name] = run_one(name, a.timeout)
    rows = table_rows(results)
    print()
    print_table(rows)
    if a.markdown:
        a.markdown.write_text(markdown(rows, info))
    return 1 if any(f is None for f, _, _ in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
