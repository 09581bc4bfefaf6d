"""`fakeface bench report`: merge results files from several devices into Markdown and PNG charts."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Optional, Sequence

from fakeface.edge.atomic import atomic_path, write_text_atomic

from .results import load_results

STAGE_ORDER = ("decode", "detect", "classify", "e2e", "reference_e2e")
STAGE_TITLES = {
    "decode": "Decode (JPEG -> RGB), per frame",
    "detect": "Face detection, per frame",
    "classify": "Classifier, per face",
    "e2e": "End to end (detect + classify every face), per frame",
    "reference_e2e": "Reference stack (mtcnn + Keras on TensorFlow), per frame",
}


def merge(paths: Sequence[str | os.PathLike], log=print) -> "OrderedDict[str, dict]":
    """device label -> results document.  Unreadable files are reported and skipped."""
    docs: "OrderedDict[str, dict]" = OrderedDict()
    for p in paths:
        try:
            doc = load_results(p)
        except ValueError as exc:
            log(f"fakeface bench report: {exc}")
            continue
        name = str(doc["device"].get("name") or Path(p).stem)
        label, n = name, 1
        while label in docs:  # two runs of one device: keep both, apart
            n += 1
            label = f"{name}#{n}"
        docs[label] = doc
    return docs


def _config_key(r: dict) -> tuple:
    return (r["model"], r["format"], r["backend"], r["threads"] or 0, r["size"], r.get("min_face") or 0)


def _fmt(v: Optional[float], digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _min_face(v) -> str:
    # Name the two standard detector settings so a reader need not know the numbers.
    names = {20: "20 default", 80: "80 face-unlock"}
    return "–" if not v else names.get(v, str(v))


def _size_pixels(size: str) -> int:
    try:
        w, h = size.split("x")
        return int(w) * int(h)
    except ValueError:
        return 0


def devices_table(docs) -> str:
    lines = ["| device | CPU | arch | cores | OS | Python | numpy | opencv | ai-edge-litert | onnxruntime | tflite-runtime | peak GFLOP/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, doc in docs.items():
        d = doc["device"]
        v = d.get("versions", {})
        cv = v.get("opencv-python-headless") or v.get("opencv-python")
        lines.append(f"| {label} | {d.get('cpu_model')} | {d.get('architecture')} | {d.get('cores')} | {d.get('os')} | "
                     f"{d.get('python')} | {v.get('numpy', '–')} | {cv or '–'} | {v.get('ai-edge-litert', '–')} | "
                     f"{v.get('onnxruntime', '–')} | {v.get('tflite-runtime', '–')} | {_fmt(d.get('peak_gflops'), 1)} |")
    return "\n".join(lines)


def stage_table(docs, stage: str) -> Optional[str]:
    """Configurations down, devices across; a cell is 'p50 ms (p90) · GFLOP/s'."""
    configs: "OrderedDict[tuple, dict]" = OrderedDict()
    for label, doc in docs.items():
        for r in doc["results"]:
            if r["stage"] == stage:
                configs.setdefault(_config_key(r), {})[label] = r
    if not configs:
        return None
    devices = list(docs)
    head = "| model | format | backend | threads | size | min face | " + " | ".join(devices) + " |"
    sep = "|---|---|---|---|---|---|" + "---|" * len(devices)
    lines = [head, sep]
    order = sorted(configs, key=lambda k: (k[0], k[2], k[3], _size_pixels(k[4]), k[5]))
    for key in order:
        model, fmt, backend, threads, size, min_face = key
        cells = []
        for dev in devices:
            r = configs[key].get(dev)
            if r is None:
                cells.append("")
            elif r.get("error"):
                cells.append("error")
            else:
                s = r["stats"]
                cell = f"{s['p50_ms']:.2f} ({s['p90_ms']:.2f})"
                if r.get("gflops_per_s"):
                    peak = docs[dev]["device"].get("peak_gflops")
                    cell += f" · {r['gflops_per_s']:.1f} GF/s"
                    if peak:
                        cell += f" ({100 * r['gflops_per_s'] / peak:.0f}% of peak)"
                if r.get("faces") is not None:
                    cell += f" · {sum(r['faces'])} faces"
                cells.append(cell)
        lines.append(f"| {model} | {fmt} | {backend} | {threads or '–'} | {size} | {_min_face(min_face)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(label: str, doc: dict) -> str:
    lines = ["| stage | model | format | backend | threads | size | min face | init ms | first ms | p50 | p90 | p99 | mean | FPS | GFLOP/s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["results"]:
        s = r.get("stats") or {}
        if r.get("error"):
            lines.append(f"| {r['stage']} | {r['model']} | {r['format']} | {r['backend']} | {r['threads'] or '–'} | "
                         f"{r['size']} | {_min_face(r.get('min_face'))} | error: {r['error'][:80]} |||||||||")
            continue
        lines.append(
            f"| {r['stage']} | {r['model']} | {r['format']} | {r['backend']} | {r['threads'] or '–'} | {r['size']} | "
            f"{_min_face(r.get('min_face'))} | {_fmt(r.get('init_ms'), 1)} | {_fmt(r.get('first_ms'))} | "
            f"{_fmt(s.get('p50_ms'))} | {_fmt(s.get('p90_ms'))} | {_fmt(s.get('p99_ms'))} | {_fmt(s.get('mean_ms'))} | "
            f"{_fmt(s.get('fps'), 1)} | {_fmt(r.get('gflops_per_s'))} | {_fmt(r.get('peak_rss_mb'), 0)} |")
    return "\n".join(lines)


def comparison_table(docs) -> Optional[str]:
    lines = []
    for label, doc in docs.items():
        for c in doc.get("reference_comparison") or []:
            lines.append(f"| {label} | {c['size']} | {c['min_face']} | {c['format']} | {c['backend']} | {c['threads']} | "
                         f"{c['edge_mean_ms']:.1f} | {c['reference_mean_ms']:.1f} | {c['speedup']:.1f}× | "
                         f"{'yes' if c['same_decisions'] else 'NO'} |")
    if not lines:
        return None
    return "\n".join(["| device | size | min face | format | backend | threads | edge ms | reference ms | speed-up | same decisions |",
                      "|---|---|---|---|---|---|---|---|---|---|"] + lines)


def markdown(docs, charts: Sequence[str] = ()) -> str:
    parts = ["# fakeface benchmark report", "",
             "Latencies in milliseconds: p50 (p90) of timed runs after warm-up; init and first inference are "
             "reported apart in the per-device tables.  GF/s = model FLOPs (2 × MACs, from the graph) / mean latency.",
             "", "## Devices", "", devices_table(docs), ""]
    for stage in STAGE_ORDER:
        t = stage_table(docs, stage)
        if t:
            parts += [f"## {STAGE_TITLES[stage]}", "", t, ""]
    comp = comparison_table(docs)
    if comp:
        parts += ["## Edge vs reference on the same frames", "", comp, ""]
    for label, doc in docs.items():
        parts += [f"## All rows: {label} ({doc.get('created', '')})", "", detail_table(label, doc), ""]
        for n in doc.get("notes") or []:
            parts.append(f"- {n}")
        parts.append("")
    if charts:
        parts += ["## Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    return "\n".join(parts)


# -- charts --------------------------------------------------------------------------
def _ok(rows, stage):
    return [r for r in rows if r["stage"] == stage and r.get("stats") and not r.get("error")]


def chart_latency_by_format(docs, path: Path, plt) -> bool:
    """Classifier p50 per format and backend (one thread), one bar per device."""
    series: "OrderedDict[str, dict]" = OrderedDict()
    for label, doc in docs.items():
        rows = _ok(doc["results"], "classify")
        if not rows:
            continue
        t_min = min(r["threads"] for r in rows)
        series[label] = {f"{r['format']}\n{r['backend']}": r["stats"]["p50_ms"] for r in rows if r["threads"] == t_min}
    if not series:
        return False
    cats = sorted({c for s in series.values() for c in s})
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(cats)), 4.5))
    width = 0.8 / len(series)
    for i, (label, s) in enumerate(series.items()):
        xs = [j + i * width for j in range(len(cats))]
        ax.bar(xs, [s.get(c, 0) for c in cats], width, label=label)
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(cats))])
    ax.set_xticklabels(cats, fontsize=8)
    ax.set_ylabel("ms per face (p50, 1 thread)")
    ax.set_title("Classifier latency by format and device")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, plt)
    return True


def chart_latency_vs_size(docs, path: Path, plt) -> bool:
    """End-to-end (or detection) p50 against frame pixels, smallest min_face, fewest threads."""
    stage = "e2e" if any(_ok(d["results"], "e2e") for d in docs.values()) else "detect"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for label, doc in docs.items():
        rows = _ok(doc["results"], stage)
        if not rows:
            continue
        mf = min(r.get("min_face") or 0 for r in rows)  # the default setting (20) when present
        rows = [r for r in rows if (r.get("min_face") or 0) == mf]
        t_min = min(r["threads"] for r in rows)
        lines: dict[str, list] = {}
        for r in rows:
            if r["threads"] == t_min:
                lines.setdefault(f"{label}: {r['model']} ({r['backend']})", []).append(
                    (_size_pixels(r["size"]) / 1e6, r["stats"]["p50_ms"]))
        for name, pts in lines.items():
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
            drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xlabel("frame size (megapixels)")
    ax.set_ylabel(f"ms per frame (p50, {stage})")
    ax.set_title(f"Latency vs input size ({'end to end' if stage == 'e2e' else 'detection'}, smallest min face)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path, plt)
    return True


def _save(fig, path: Path, plt) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def charts_hint() -> str:
    """What to install for the charts: the extra that brings matplotlib ([bench]), or matplotlib itself."""
    from fakeface.edge.extras import extra_providing, install_hint

    return f"{install_hint(extra_providing('matplotlib') or 'bench')} (or pip install matplotlib)"


def write_report(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike, log=print) -> list[Path]:
    """Write report.md (always) and the PNG charts (when matplotlib is installed)."""
    docs = merge(paths, log=log)
    if not docs:
        raise ValueError("no readable results files")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts: list[Path] = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log(f"fakeface bench report: charts skipped, matplotlib is not installed: {charts_hint()}; "
            "the Markdown report is complete")
        plt = None
    if plt is not None:
        for name, draw in (("latency_by_format.png", chart_latency_by_format),
                           ("latency_vs_size.png", chart_latency_vs_size)):
            if draw(docs, out / name, plt):
                charts.append(out / name)
    md = out / "report.md"
    write_text_atomic(md, markdown(docs, [c.name for c in charts]))
    return [md] + charts


def summary_lines(doc: dict) -> list[str]:
    """A terminal table of one run: one line per configuration."""
    head = f"{'stage':<14}{'model':<24}{'backend':<15}{'thr':>4} {'size':<10}{'minf':>5}{'init ms':>9}{'first':>8}{'p50':>9}{'p90':>9}{'FPS':>8}"
    out = [head, "-" * len(head)]
    for r in doc["results"]:
        prefix = (f"{r['stage']:<14}{r['model'][:23]:<24}{r['backend'][:14]:<15}{r['threads'] or '-':>4} "
                  f"{r['size']:<10}{r.get('min_face') or '-':>5}")
        if r.get("error"):
            out.append(prefix + f"  error: {r['error'][:70]}")
            continue
        s = r["stats"]
        out.append(prefix + f"{_fmt(r.get('init_ms'), 1):>9}{_fmt(r.get('first_ms')):>8}"
                   f"{s['p50_ms']:>9.2f}{s['p90_ms']:>9.2f}{s['fps']:>8.1f}")
    for c in doc.get("reference_comparison") or []:
        out.append(f"edge vs reference {c['size']} min_face {c['min_face']} {c['model']} ({c['backend']}, "
                   f"{c['threads']} thr): {c['speedup']:.1f}x faster, same decisions: {c['same_decisions']}")
    out.append(f"peak RSS (whole run): {doc.get('peak_rss_mb', 0):.0f} MB")
    return out
