"""Turning timings into records (the JSON schema), a rich table, a matplotlib chart and a progress bar."""

from __future__ import annotations

import contextlib
import sys
import textwrap

from fastload.bench.core import FASTLOAD, FLOOR, FRESH, REFERENCE, TORCHVISION, Case, Result

NOISY_SPREAD = 1.5  # median / fastest run above this: most runs were slowed down, the median is not to be trusted


def noisy(row: dict) -> bool:
    """Whether a timed row reads as noise: its median over NOISY_SPREAD x its fastest run (the slowest run says
    little: one page fault or preemption sets it), or a one-pass op faster than a copy of its bytes (under 0.9x the
    floor: caches, or a slowed-down floor run)."""
    if row.get("median_s") is None:
        return False
    slowed = row["reps"] > 1 and row["median_s"] > NOISY_SPREAD * row["min_s"]
    below_floor = row["x_floor"] is not None and row["impl"] not in (FLOOR, FRESH) and row["x_floor"] < 0.9
    return slowed or below_floor


def record(case: Case, results: list[Result]) -> dict:
    """One case as a JSON-ready dict; ratios are computed from this run's medians only."""
    medians = {r.impl: r.timing.median for r in results if r.timing}
    tv, floor = medians.get(TORCHVISION), medians.get(FLOOR)
    rows = []
    for r in results:
        row = {"impl": r.impl, "note": r.note, "error": r.error, "max_abs_diff": r.max_abs_diff, "matches": r.matches}
        if r.timing:
            t = r.timing
            row.update(
                median_s=t.median,
                min_s=t.min,
                max_s=t.max,
                reps=t.reps,
                mb_per_s=case.bytes_moved / t.median / 1e6,
                items_per_s=case.items / t.median,
                speedup_vs_torchvision=(tv / t.median) if tv else None,
                x_floor=(t.median / floor) if floor else None,
            )
            row["noisy"] = noisy(row)
        rows.append(row)
    ran = [r for r in results if r.timing is not None and r.matches is not None]
    return {
        "suite": case.suite,
        "case": case.name,
        "device": case.device,
        "bytes_moved": case.bytes_moved,
        "items": case.items,
        "tolerance": case.tolerance,
        "results": rows,
        "unavailable": case.unavailable,
        "check_passed": all(r.matches for r in ran),
    }


def loaded(rec: dict) -> bool:
    """Whether the case's suite ran while other work kept the machine busy (fastload.bench.load)."""
    return bool(rec.get("load", {}).get("under_load"))


def marks(rec: dict, row: dict) -> str:
    """The flags after a median: "~" noisy row, "!" measured under load (both say: rerun before quoting it)."""
    return ("~" if row.get("noisy") else "") + ("!" if loaded(rec) else "")


def load_note(doc: dict) -> str:
    """One line on the load around each suite that ran under load ("" when none did)."""
    seen = {}
    for rec in doc["cases"]:
        if loaded(rec):
            before, after = rec["load"]["before"], rec["load"]["after"]
            seen[f"{rec['suite']} [{rec['device']}]"] = f"{before['busy_cores']} / {after['busy_cores']}"
    if not seen:
        return ""
    busy = "; ".join(f"{k}: {v}" for k, v in seen.items())
    return f"!: measured under load (cores busy with other work before / after the suite: {busy}); rerun when idle."


def _ms(seconds: float) -> str:
    return (
        f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.2f}" if seconds < 1 else f"{seconds * 1e3:.0f}"
    )


def print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    env = doc["environment"]
    console = Console(width=None if sys.stdout.isatty() else 180)
    info = env["backend"]
    console.print(
        f"[bold]fastload {env['fastload']}[/] (backend {info['backend']}, extension "
        f"{'loaded' if info['extension_loaded'] else 'NOT loaded'}, CPU ISA {info['cpu_capability']}) · "
        f"torch {env['torch']} · torchvision {env['torchvision']} · {env['cpu']} · {env['cores']} cores, "
        f"{env['threads']} threads · GPU {env['gpu'] or 'none'} · malloc: {env['malloc']} · images: {env['images']} · "
        f"{env['date']}"
    )
    table = Table(show_lines=False)
    for col, justify in (
        ("case", "left"),
        ("implementation", "left"),
        ("median ms", "right"),
        ("min–max ms", "right"),
        ("MB/s", "right"),
        ("img/s", "right"),
        ("× vs torchvision", "right"),
        ("× of floor", "right"),
        ("max |Δ|", "right"),
    ):
        table.add_column(col, justify=justify)
    for rec in doc["cases"]:
        label = escape(f"{rec['suite']}: {rec['case']} [{rec['device']}]")  # "[cpu]" is not rich markup
        for i, row in enumerate(rec["results"]):
            name = escape(row["impl"])
            if row["impl"] == FASTLOAD:
                name = f"[bold green]{name}[/]"
            if row.get("error"):
                table.add_row(label if i == 0 else "", name, "error", escape(row["error"][:60]), "", "", "", "", "")
                continue
            diff = row["max_abs_diff"]
            diff_s = "" if diff is None else (f"{diff:.1e}" + ("" if row["matches"] else " [red]✗[/]"))
            sp = row["speedup_vs_torchvision"]
            table.add_row(
                label if i == 0 else "",
                name,
                _ms(row["median_s"]) + (f" [yellow]{marks(rec, row)}[/]" if marks(rec, row) else ""),
                f"{_ms(row['min_s'])}–{_ms(row['max_s'])}",
                f"{row['mb_per_s']:.0f}",
                f"{row['items_per_s']:.1f}",
                "" if sp is None else f"{sp:.2f}×",
                "" if row["x_floor"] is None else f"{row['x_floor']:.2f}",
                diff_s,
            )
        for peer, why in rec["unavailable"].items():
            table.add_row("", f"[dim]{escape(peer)}[/]", f"[dim]{escape(why)}[/]", "", "", "", "", "", "")
        table.add_section()
    console.print(table)
    if load_note(doc):
        console.print(f"[yellow]{escape(load_note(doc))}[/]")
    console.print(
        "~: noisy (median over 1.5x the fastest run, or faster than a copy of the same bytes): rerun "
        "on a quiet machine before quoting it. × of floor: median time / median time of a copy moving the "
        "same bytes into preallocated memory (1.0 = memory bound). fresh output: allocating the result and "
        "writing it once, which every allocating implementation pays. max |Δ|: largest difference from "
        "fastload's output (for a peer with another filter or geometry, from fastload computing that one: "
        "see the suite's docstring)."
    )


def markdown(doc: dict) -> str:
    """The results as GitHub markdown: one table per suite, ready to paste into an issue or RESULTS.md."""
    env = doc["environment"]
    lines = [
        f"fastload {env['fastload']} · torch {env['torch']} · torchvision {env['torchvision']} · {env['cpu']}, "
        f"{env['cores']} cores, {env['threads']} threads · GPU {env['gpu'] or 'none'} · malloc: {env['malloc']} · "
        f"{env['date']} · "
        f"`{env['command']}`"
    ]
    for suite in dict.fromkeys(rec["suite"] for rec in doc["cases"]):
        lines += [
            "",
            f"**{suite}**",
            "",
            "| case | implementation | median ms | × vs torchvision | × of floor | max \\|Δ\\| |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for rec in (r for r in doc["cases"] if r["suite"] == suite):
            case = f"{rec['case']} [{rec['device']}]"
            for row in rec["results"]:
                if row.get("error"):
                    lines.append(f"| {case} | {row['impl']} | error: {row['error'][:60]} | | | |")
                    continue
                sp, xf, diff = row["speedup_vs_torchvision"], row["x_floor"], row["max_abs_diff"]
                lines.append(
                    f"| {case} | {row['impl']} | {' '.join(filter(None, (_ms(row['median_s']), marks(rec, row))))} | "
                    f"{'' if sp is None else f'{sp:.2f}×'} | "
                    f"{'' if xf is None else f'{xf:.2f}'} | {'' if diff is None else f'{diff:.1e}'} |"
                )
            for peer, why in rec["unavailable"].items():
                lines.append(f"| {case} | {peer} | {why} | | | |")
    if load_note(doc):
        lines += ["", load_note(doc)]
    return "\n".join(lines) + "\n"


SKIPPED = (FLOOR, FRESH, REFERENCE)  # rows the chart does not draw as bars


def plot(doc: dict, path: str) -> None:
    """One panel per suite: speed-up of every implementation vs torchvision, per case (log scale), with the copy
    floor (the speed-up a pure memory copy of the case's bytes would have) drawn over each case. fastload's
    pure-PyTorch reference is left out: it is the fallback, not a peer, and would stretch the axis to 0.02x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    suites = sorted({rec["suite"] for rec in doc["cases"]})
    # One colour per implementation across every panel, in order of first appearance.
    every = []
    for rec in doc["cases"]:
        every += [r["impl"] for r in rec["results"] if r["impl"] not in every and r["impl"] not in SKIPPED]
    palette = plt.get_cmap("tab20").colors
    colour = {impl: palette[i % len(palette)] for i, impl in enumerate(every)}
    fig, axes = plt.subplots(len(suites), 1, figsize=(12, 3.6 * len(suites)), squeeze=False)
    for ax, suite in zip(axes[:, 0], suites):
        recs = [r for r in doc["cases"] if r["suite"] == suite]
        impls = []
        for rec in recs:
            impls += [r["impl"] for r in rec["results"] if r["impl"] not in impls and r["impl"] not in SKIPPED]
        width = 0.8 / max(1, len(impls))
        for j, impl in enumerate(impls):
            values = []
            for rec in recs:
                row = next((r for r in rec["results"] if r["impl"] == impl), None)
                values.append(row.get("speedup_vs_torchvision") or 0 if row and not row.get("error") else 0)
            xs = [i + (j - (len(impls) - 1) / 2) * width for i in range(len(recs))]
            bars = ax.bar(xs, values, width, label=impl, color=colour[impl])
            ax.bar_label(bars, labels=[f"{v:.1f}×" if v else "" for v in values], fontsize=7)
        for i, rec in enumerate(recs):  # the copy floor: how fast a memory copy of the same bytes would be
            floor = next((r.get("speedup_vs_torchvision") for r in rec["results"] if r["impl"] == FLOOR), None)
            tallest = max(
                [
                    r.get("speedup_vs_torchvision") or 0
                    for r in rec["results"]
                    if r["impl"] not in SKIPPED and not r.get("error")
                ]
                or [0]
            )
            # End-to-end cases (decoding files) sit far below a copy of their output: a line 100x above the bars
            # would only flatten them, so it is drawn where it is within 5x of the tallest bar.
            if floor and floor <= 5 * tallest:
                ax.hlines(
                    floor,
                    i - 0.45,
                    i + 0.45,
                    colors="black",
                    linestyles="dashed",
                    lw=1,
                    label="copy floor" if i == 0 else None,
                )
        ax.set_xticks(range(len(recs)), [textwrap.fill(f"{r['case']} [{r['device']}]", 48) for r in recs], fontsize=8)
        ax.set_yscale("log")
        # Ticks read 0.5×, 1×, 2×, 5×, 10×, ... rather than 10⁰-style powers.
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=()))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_ylabel("speed-up vs torchvision")
        ax.set_title(f"fastload bench: {suite}")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    env = doc["environment"]
    fig.suptitle(f"{env['cpu']}, {env['threads']} threads, GPU {env['gpu'] or 'none'} — {env['date'][:10]}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / (3.6 * len(suites))))  # room for the figure title above panel 1
    fig.savefig(path, dpi=110)
    plt.close(fig)


@contextlib.contextmanager
def progress(enabled: bool = True):
    """Yields step(description): advance the bar by one implementation; `step.grow(n)` adds n implementations to
    the total (each suite's, when its cases are built)."""
    if not enabled:
        step = lambda description: None  # noqa: E731
        step.grow = lambda n: None
        yield step
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("benchmarking", total=0)

        def step(description: str):
            bar.update(task, advance=1, description=description[:60])

        step.grow = lambda n: bar.update(task, total=bar.tasks[0].total + n)
        yield step
