"""Statistics, the machine, the targets, and the tables (Markdown, so docs/benchmarks.md takes them as they are)."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

Results = dict[str, Any]


def summarize(samples: list[float]) -> dict[str, Any]:
    """n, p50, p95 (nearest rank), max and mean of millisecond samples, rounded to 0.01 ms."""
    if not samples:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None, "mean_ms": None}
    ordered = sorted(samples)
    p95_index = max(0, -(-95 * len(ordered) // 100) - 1)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[p95_index], 2), "max_ms": round(ordered[-1], 2),
            "mean_ms": round(statistics.fmean(ordered), 2)}


# -- the machine ----------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _file_system(path: Path) -> str:
    """The file system type of the mount holding `path` (the benchmark's files)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) > 2 and str(path).startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit(repo: Path) -> str:
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def machine(work_dir: Path, repo: Path) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(), "cpu": _cpu_model(), "python": platform.python_version(),
        "implementation": sys.implementation.name, "system": f"{platform.system()} {platform.release()}",
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "file_system": _file_system(work_dir), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "switch_interval_ms": sys.getswitchinterval() * 1000, "commit": _commit(repo),
        "packages": {name: _version(name) for name in ("watchdog", "jurigged", "playwright", "psutil")},
    }


# -- targets --------------------------------------------------------------------------------------
def _rows(results: Results, part: str) -> list[dict[str, Any]]:
    """A part's series: the latency part is a list of them, the update part holds them in "rows"."""
    rows = results.get(part, [])
    return rows.get("rows", []) if isinstance(rows, dict) else rows


def find_row(results: Results, subject: str, save: str = "in-place", load: str = "idle",
             part: str = "latency") -> dict[str, Any] | None:
    for row in _rows(results, part):
        if row["subject"] == subject and row["save"] == save and row["load"] == load:
            return row
    return None


def ratio(results: Results, subject: str, save: str = "in-place", load: str = "idle",
          stat: str = "p50_ms", *, ours_subject: str = "ours", part: str = "latency") -> float | None:
    ours, peer = find_row(results, ours_subject, save, load, part), find_row(results, subject, save, load, part)
    if not ours or not peer or not ours.get(stat) or peer.get(stat) is None:
        return None
    return round(peer[stat] / ours[stat], 1)


def _get(data: Any, *path: Any) -> Any:
    for key in path:
        if data is None:
            return None
        data = data.get(key) if isinstance(data, dict) else (data[key] if key < len(data) else None)
    return data


@dataclass(frozen=True)
class Target:
    name: str
    measure: Callable[[Results], float | None]
    limit: float
    at_least: bool = False  # a floor (ratios) rather than a ceiling
    unit: str = "ms"

    def check(self, results: Results) -> dict[str, Any]:
        value = self.measure(results)
        met = None if value is None else (value >= self.limit if self.at_least else value <= self.limit)
        sign = "≥" if self.at_least else "≤"
        return {"target": f"{self.name} {sign} {self.limit:g} {self.unit}".rstrip(), "measured": value,
                "unit": self.unit, "met": met}


def _latency(save: str, load: str, stat: str) -> Callable[[Results], float | None]:
    return lambda r: _get(find_row(r, "ours", save, load), stat)


def _callbacks(results: Results) -> float | None:
    callbacks = _get(results, "rest", "callbacks")
    if not callbacks:
        return None
    return round(callbacks["ui_settings_ms"]["median"] + callbacks["app_started_ms"]["median"], 2)


def _tree(suffix: str, key: str) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        for tree in _get(results, "scale", "trees") or []:
            if tree["suffix"] == suffix:
                return tree[key] / 1000 if key.endswith("_ms") else tree[key]
        return None

    return measure


def _updated(save: str, stat: str) -> Callable[[Results], float | None]:
    return lambda r: _get(find_row(r, "tracked", save, "idle", part="update"), stat)


def _apply(server: str, stat: str) -> Callable[[Results], float | None]:
    """A figure of the save -> apply answered row of `server`."""
    def measure(results: Results) -> float | None:
        rows = [row for row in _get(results, "apply", "rows") or [] if row["server"] == server]
        return rows[0][stat] if rows else None

    return measure


def _ui(part: str, *keys: str) -> Callable[[Results], float | None]:
    return lambda results: _get(results, part, *keys)


def _start_with_tracking(results: Results) -> float | None:
    """Our start-up callbacks, plus what tracking an extension adds: importing the update engine
    and the first snapshot of the extension's loaded modules."""
    callbacks, start = _callbacks(results), _get(results, "update", "start")
    if callbacks is None or not start:
        return None
    return round(callbacks + start["import_ms"]["p50_ms"] + start["first_snapshot_ms"]["p50_ms"], 2)


def _storm(results: Results) -> float | None:
    storms = _get(results, "scale", "storms")
    if not storms:
        return None
    return 1.0 if all(s["last_applied"] and s["runs"] < s["saves"] for s in storms) else 0.0


def _route_max(storm: str) -> Callable[[Results], float | None]:
    """The slowest answer of the plain routes asked during a stream storm."""
    def measure(results: Results) -> float | None:
        routes = _get(results, "stream", storm, "route") or {}
        maxima = [stats["max_ms"] for stats in routes.values() if stats.get("max_ms") is not None]
        return max(maxima) if maxima else None

    return measure


def _reconnect_warnings(results: Results) -> float | None:
    warnings = _get(results, "stream", "reconnect_storm", "warnings")
    return None if warnings is None else sum(warnings.values())


TARGETS = [
    Target("save → applied p50, idle, in-place", _latency("in-place", "idle", "p50_ms"), 5),
    Target("save → applied p95, idle, in-place", _latency("in-place", "idle", "p95_ms"), 15),
    Target("save → applied p50, idle, atomic", _latency("atomic", "idle", "p50_ms"), 5),
    Target("save → applied p95, idle, atomic", _latency("atomic", "idle", "p95_ms"), 15),
    Target("save → applied p95, busy thread, in-place", _latency("in-place", "busy", "p95_ms"), 25),
    Target("save → applied p95, busy thread, atomic", _latency("atomic", "busy", "p95_ms"), 25),
    Target("jurigged p50 ÷ ours p50", lambda r: ratio(r, "jurigged"), 10, at_least=True, unit="×"),
    Target("2 s scan p50 ÷ ours p50", lambda r: ratio(r, "scan"), 100, at_least=True, unit="×"),
    Target("save → toast visible p95", lambda r: _get(r, "toast", "painted", "p95_ms"), 100),
    # The host's registrars call inspect.stack() per callback, which grows with every module the
    # webui has loaded (0.25 s a callback on a real Forge): the host's cost, shown in the table.
    Target("scripts entry import (ours, without the host's registrars)",
           lambda r: _get(r, "rest", "entry", "entry_without_registrars_ms", "median"), 5),
    Target("our start-up callbacks (ui_settings + app_started)", _callbacks, 50),
    Target("idle CPU", lambda r: _get(r, "rest", "idle", "extra_cpu_percent_of_core"), 0.05, unit="% of a core"),
    Target("tree of data files (10 000 in 500 folders): start watching", _tree(".txt", "watching_ms"), 1, unit="s"),
    Target("tree of data files: RSS added", _tree(".txt", "rss_added_mb"), 30, unit="MB"),
    Target("tree of tiny .py files (10 000): start watching", _tree(".py", "watching_ms"), 1, unit="s"),
    Target("tree of tiny .py files: RSS added", _tree(".py", "rss_added_mb"), 30, unit="MB"),
    Target("save storms: fewer runs than saves and the last content applied (1 = yes)", _storm, 1,
           at_least=True, unit=""),
    Target("plain route max while 200 event streams take a 500-save storm", _route_max("save_storm"), 100),
    Target("plain routes max while 100 pages reconnect (300 live files)", _route_max("reconnect_storm"), 100),
    Target("asyncio/uvicorn warnings printed in the reconnect storm", _reconnect_warnings, 0, unit=""),
    Target("connections of departed pages still held after it",
           lambda r: _get(r, "stream", "reconnect_storm", "connections_held_after"), 0, unit=""),
    Target("tracked module save → updated p50, in-place", _updated("in-place", "p50_ms"), 5),
    Target("tracked module save → updated p95, in-place", _updated("in-place", "p95_ms"), 15),
    Target("tracked module save → updated p50, atomic", _updated("atomic", "p50_ms"), 5),
    Target("tracked module save → updated p95, atomic", _updated("atomic", "p95_ms"), 15),
    Target("jurigged p50 ÷ ours p50, updating the tracked module",
           lambda r: ratio(r, "jurigged", ours_subject="tracked", part="update"), 10, at_least=True, unit="×"),
    # "Start cost unchanged": tracking an extension keeps our start within the budget it had.
    Target("our start-up callbacks + tracking an extension of 30 modules", _start_with_tracking, 50),
    Target("save → apply answered p50, over the loopback (the webui's server)", _apply("webui", "p50_ms"), 20),
    Target("tab edit → rebuilt tab usable in the open page p95 (stand-in, gradio 3: a page reload)",
           _ui("ui", "in_place", "p95_ms"), 1000),
    Target("Reload UI p50 ÷ in-place rebuild p50 (stand-in, gradio 3)", _ui("ui", "reload_ui_p50_over_in_place_p50"),
           10, at_least=True, unit="×"),
    Target("tab edit → rebuilt tab usable in the open page p95 (stand-in, gradio 4: re-rendered in place)",
           _ui("ui_gradio4", "in_place", "p95_ms"), 1000),
    Target("Reload UI p50 ÷ in-place rebuild p50 (stand-in, gradio 4)",
           _ui("ui_gradio4", "reload_ui_p50_over_in_place_p50"), 10, at_least=True, unit="×"),
]


def check_targets(results: Results) -> list[dict[str, Any]]:
    return [target.check(results) for target in TARGETS]


# -- tables ---------------------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value}×"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def latency_table(results: Results) -> list[str]:
    rows: list[list[str]] = []
    notes: list[str] = []
    for row in results.get("latency", []):
        vs_ours = "1×" if row["subject"] == "ours" else _times(ratio(results, row["subject"], row["save"], row["load"]))
        label = f"**{row['label']}**" if row["subject"] == "ours" else row["label"]
        rows.append([label, row["save"], row["load"], str(row["n"]), _ms(row["p50_ms"]), _ms(row["p95_ms"]),
                     _ms(row["max_ms"]), f"{row['missed']}/{row['attempted']}", str(row.get("original_seen", 0)),
                     vs_ours])
        if row.get("note"):
            notes.append(f"- {row['label']}, {row['save']}, {row['load']}: {row['note']}")
    header = ["subject", "save", "load", "n", "p50 ms", "p95 ms", "max ms", "missed", "original seen", "p50 ÷ ours"]
    return _table(header, rows) + (["", *notes] if notes else [])


def update_lines(update: dict[str, Any]) -> list[str]:
    loaded = f"after importing {', '.join(update['imports'])}" if update["imports"] else "with no webui modules loaded"
    lines = [f"Save → updated in place: a tracked module of {update['module_lines']} lines, each save a new body of "
             f"the function the process calls; each process {loaded}.", ""]
    rows = []
    for row in update["rows"]:
        vs_ours = "1×" if row["subject"] == "tracked" else _times(
            ratio({"update": update}, row["subject"], row["save"], ours_subject="tracked", part="update"))
        label = f"**{row['label']}**" if row["subject"] == "tracked" else row["label"]
        rows.append([label, row["save"], str(row["n"]), _ms(row["p50_ms"]), _ms(row["p95_ms"]),
                     _ms(row["max_ms"]), f"{row['missed']}/{row['attempted']}", vs_ours])
    lines += _table(["subject", "save", "n", "p50 ms", "p95 ms", "max ms", "missed", "p50 ÷ ours"], rows)
    start = update["start"]
    lines += ["", f"Tracking an extension of {start['modules']} modules at start, in a process with "
              f"{start['modules_loaded']} modules loaded (median of {start['processes']} fresh processes): importing "
              f"the update engine {_ms(start['import_ms']['p50_ms'])} ms, the first snapshot_loaded "
              f"{_ms(start['first_snapshot_ms']['p50_ms'])} ms (later calls {_ms(start['later_snapshot_ms']['p50_ms'])}"
              " ms)."]
    closures = update.get("closures")
    if closures:
        lines += ["", f"An edit of route handlers nested in an `on_app_started` callback, on a heap of "
                  f"{closures['heap_objects']:,} objects with {closures['routes']} routes and "
                  f"{closures['callbacks']} callbacks ({closures['edits']} edits): the update, looking through what "
                  f"the host holds, p50 / p95 {_ms(closures['update_ms']['p50_ms'])} / "
                  f"{_ms(closures['update_ms']['p95_ms'])} ms (without looking: "
                  f"{_ms(closures['update_without_host_ms']['p50_ms'])} ms); `gc.get_referrers` of the old handler's "
                  f"code alone, a walk of the heap: {_ms(closures['get_referrers_ms']['p50_ms'])} / "
                  f"{_ms(closures['get_referrers_ms']['p95_ms'])} ms."]
    return lines


def targets_table(results: Results) -> list[str]:
    marks = {True: "✅ met", False: "❌ missed", None: "— not measured"}
    rows = [[t["target"], "—" if t["measured"] is None else f"{t['measured']:g} {t['unit']}".rstrip(),
             marks[t["met"]]] for t in results.get("targets", [])]
    return _table(["target", "measured", ""], rows)


def rest_table(rest: dict[str, Any]) -> list[str]:
    def median(*path: str) -> str:
        value = _get(rest, *path, "median")
        return "—" if value is None else f"{value:.1f} ms (min {_get(rest, *path, 'min'):.1f})"

    idle = rest.get("idle", {})
    rows = [
        ["scripts/hot_reload.py executed by the host (stand-in registrars)", median("entry", "entry_ms")],
        ["… of which ours (registrars as no-ops)", median("entry", "entry_without_registrars_ms")],
        ["`import hotreload_lib`, bare interpreter / webui's stdlib loaded",
         f"{median('imports_bare', 'package_ms')} / {median('imports_warm', 'package_ms')}"],
        ["+ `hotreload_lib.host` (the callbacks' adapter), webui's stdlib loaded",
         median("imports_warm", "host_ms")],
        ["+ `hotreload_lib.watching.watch` (watchdog; on the reloader's thread)", median("imports_warm", "watch_ms")],
        ["ui_settings callback (first to run: loads hotreload_lib)", median("callbacks", "ui_settings_ms")],
        ["app_started callback (starts the reloader)", median("callbacks", "app_started_ms")],
        ["… until the reloader watches (its own thread)", median("callbacks", "watching_ms")],
        [f"idle CPU over {idle.get('seconds', '—')} s: reloader / without / extra (% of a core)",
         " / ".join(f"{v:.4f}" for v in (*idle.get("cpu_percent_of_core", {}).values(),
                                          idle.get("extra_cpu_percent_of_core", 0.0)))],
        ["RSS: reloader / without / extra (MB)",
         " / ".join(f"{v:.1f}" for v in (*idle.get("rss_mb", {}).values(), idle.get("extra_rss_mb", 0.0)))],
    ]
    repeats = _get(rest, "entry", "repeats")
    return _table([f"cost at rest (median of {repeats} fresh processes)", "measured"], rows)


def scale_table(scale: dict[str, Any]) -> list[str]:
    rows = []
    for tree in [*scale.get("trees", []), scale.get("control")]:
        if not tree:
            continue
        what = f"{tree['files']} {tree['suffix']} files in {tree['folders']} folders" if tree["files"] else \
            "control: the live file alone"
        deep = tree["deep_save"]
        rows.append([what, f"{tree['watching_ms']:.0f}", f"{tree['initial_ms']:.0f}", str(tree["runs_at_start"]),
                     f"{tree['rss_added_mb']:.1f}", f"{_ms(deep['p50_ms'])} / {_ms(deep['p95_ms'])} (n={deep['n']})"])
    lines = _table(["live folder", "watching ms", "all files run ms", "runs at start", "RSS added MB",
                    "deep save → applied p50 / p95 ms"], rows)
    for storm in scale.get("storms", []):
        outcomes = ", ".join(f"{k}: {v}" for k, v in storm["outcomes"].items())
        applied = (f"yes, {_ms(storm['last_applied_after_ms'])} ms after the last save" if storm["last_applied"]
                   else "NO")
        lines += ["", f"Save storm, {storm['save']}: {storm['saves']} saves to one file in {storm['storm_s']:.2f} s → "
                  f"{storm['runs']} runs ({outcomes}); last content applied: {applied}; runs that read a "
                  f"half-written file: {storm['half_written_runs']}; calls that saw the original function in "
                  f"between: {storm['original_seen']}."]
    return lines


def toast_lines(toast: dict[str, Any]) -> list[str]:
    if toast.get("status") != "ok":
        return [f"Save → toast: {toast.get('status', 'not run')}: {toast.get('reason', '')}"]
    dom, painted = toast["dom"], toast["painted"]
    return [f"Save → toast in headless Chromium {toast.get('chromium', '')} on the demo page ({dom['n']} saves, "
            f"{toast['missed']} missed): in the DOM p50 {_ms(dom['p50_ms'])} / p95 {_ms(dom['p95_ms'])} ms; "
            f"painted p50 {_ms(painted['p50_ms'])} / p95 {_ms(painted['p95_ms'])} / max {_ms(painted['max_ms'])} ms."]


def _routes(storm: dict[str, Any]) -> str:
    routes = storm.get("route", {})
    return "; ".join(f"`{path}` p50 {_ms(stats['p50_ms'])} / p95 {_ms(stats['p95_ms'])} / "
                     f"max {_ms(stats['max_ms'])} ms (n={stats['n']})" for path, stats in routes.items())


def stream_lines(stream: dict[str, Any]) -> list[str]:
    lines = []
    storm = stream.get("save_storm", {})
    if storm.get("status") == "ok":
        lines.append(f"Event stream, {storm['clients']} streams and a {storm['saves']}-save storm on the demo: every "
                     f"stream got every event: {'yes' if storm['every_stream_got_every_event'] else 'NO'} "
                     f"({storm['delivered_s']:.2f} s; streams cut off: {storm['streams_cut_off']}); meanwhile "
                     f"{_routes(storm)}.")
    else:
        lines.append(f"Event stream, save storm: {storm.get('status', 'not run')}: {storm.get('reason', '')}")
    control = stream.get("save_storm_control", {})
    if control.get("status") == "ok":
        lines.append(f"The same storm with one stream (the control: the storm itself, the garbage collector and "
                     f"the machine's other load): {_routes(control)}.")
    storm = stream.get("reconnect_storm", {})
    if storm.get("status") == "ok":
        warnings = sum(storm["warnings"].values())
        lines += ["", f"Reconnect storm, {storm['clients']} pages each reconnecting about every 2 s for "
                  f"{storm['seconds']:g} s with {storm['files']} live files ({storm['connections_made']} connections, "
                  f"each asking for a backlog): {_routes(storm)}; warnings printed: {warnings}; connections still "
                  f"held 3 s after: {storm['connections_held_after']}."]
    else:
        lines += ["", f"Reconnect storm: {storm.get('status', 'not run')}: {storm.get('reason', '')}"]
    return lines


def machine_line(results: Results) -> str:
    m = results["machine"]
    return (f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB, {m['system']}, Python {m['python']}, "
            f"{m['file_system']} file system, load average {m['load_average_at_start'][0]} at start; "
            f"watchdog {m['packages']['watchdog']}, jurigged {m['packages']['jurigged']}; commit {m['commit']}; "
            f"{results['duration_s']:.0f} s in all.")


def apply_lines(apply: dict[str, Any]) -> list[str]:
    rows = [[row["label"], str(row["n"]), _ms(row["p50_ms"]), _ms(row["p95_ms"]), _ms(row["max_ms"]),
             f"{row['missed']}/{row['attempted']}"] for row in apply["rows"]]
    return ["Save → `apply` answered: a live file saved in place, then the apply call over the loopback, its "
            "answer read (it must report that save).", "",
            *_table(["server", "n", "p50 ms", "p95 ms", "max ms", "missed"], rows)]


def ui_lines(ui: dict[str, Any]) -> list[str]:
    if ui.get("status") != "ok":
        return [f"UI rebuild: {ui.get('status', 'not run')}: {ui.get('reason', '')}"]
    in_place, reload_ui = ui["in_place"], ui["reload_ui"]
    on = f" (gradio {ui['gradio']})" if ui.get("gradio") else ""
    return [f"UI rebuild in headless Chromium on the stand-in webui{on}, until the page shows the new tab with the "
            f"typed prompt back: a tab edit rebuilt in place p50 {_ms(in_place['p50_ms'])} / p95 "
            f"{_ms(in_place['p95_ms'])} ms ({in_place['n']} saves); the host's Reload UI, click → page usable, p50 "
            f"{_ms(reload_ui['p50_ms'])} / p95 {_ms(reload_ui['p95_ms'])} ms ({reload_ui['n']}): "
            f"{_times(ui['reload_ui_p50_over_in_place_p50'])} slower."]


def render(results: Results) -> str:
    config = results["config"]
    lines = [machine_line(results), "",
             f"Save → applied, ms from the save's close() (in place) or rename (atomic) until a call in the "
             f"holding process returns the new code; {config['saves']} saves per row after {config['warmup']} "
             "warm-up saves; \"busy\": another thread of that process runs Python code without pause.", ""]
    lines += latency_table(results)
    if "rest" in results:
        lines += ["", *rest_table(results["rest"])]
    if "scale" in results:
        lines += ["", *scale_table(results["scale"])]
    if "toast" in results:
        lines += ["", *toast_lines(results["toast"])]
    if "stream" in results:
        lines += ["", *stream_lines(results["stream"])]
    if "update" in results:
        lines += ["", *update_lines(results["update"])]
    if "apply" in results:
        lines += ["", *apply_lines(results["apply"])]
    for part in ("ui", "ui_gradio4"):
        if part in results:
            lines += ["", *ui_lines(results[part])]
    lines += ["", "Targets:", "", *targets_table(results)]
    lines += [f"\n{part} failed: {error}" for part, error in results.get("errors", {}).items()]
    return "\n".join(lines) + "\n"
