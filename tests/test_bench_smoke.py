"""The benchmark end to end with tiny counts (`python -m bench --quick`): it runs every part against
the real subjects and writes results.json of the documented shape. No timing is asserted anywhere:
speed is what the full benchmark measures, on a quiet machine."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from bench.report import TARGETS

REPO_ROOT = Path(__file__).resolve().parents[1]
STATS = {"n", "p50_ms", "p95_ms", "max_ms", "mean_ms"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-5000:]}"
    return json.loads(out.read_text(encoding="utf-8")), run.stdout


def test_results_have_every_part_and_the_machine(quick_run: tuple[dict, str]) -> None:
    results, _ = quick_run
    assert results["schema"] == 1
    assert results["errors"] == {}
    assert {"latency", "rest", "scale", "toast", "stream", "update", "apply", "targets", "duration_s",
            "config"} <= set(results)
    assert "ui_gradio4" in results if version("gradio").startswith("4.") else "ui" in results
    assert {"nproc", "cpu", "python", "file_system", "packages"} <= set(results["machine"])


def test_every_subject_was_measured_and_ours_applied_its_saves(quick_run: tuple[dict, str]) -> None:
    results, _ = quick_run
    rows = {(row["subject"], row["save"], row["load"]): row for row in results["latency"]}
    for subject in ("floor", "ours", "ours-cli", "jurigged", "scan"):
        assert (subject, "in-place", "idle") in rows, subject
    assert ("ours", "in-place", "busy") in rows and ("ours", "atomic", "idle") in rows
    for row in rows.values():
        assert STATS <= set(row) and {"attempted", "missed", "label"} <= set(row)
    for key, row in rows.items():
        if key[0] == "ours":  # a reloader that stopped applying saves leaves n == 0 here
            assert row["n"] >= 1, row


def test_rest_scale_and_storm_report_their_figures(quick_run: tuple[dict, str]) -> None:
    results, _ = quick_run
    rest, scale = results["rest"], results["scale"]
    assert {"imports_bare", "imports_warm", "entry", "callbacks", "idle"} <= set(rest)
    assert rest["entry"]["hotreload_lib_imported"] is False  # the entry stays lazy
    assert rest["idle"]["mode"] in {"native", "polling"}
    assert [tree["suffix"] for tree in scale["trees"]] == [".txt", ".py"]
    for tree in [*scale["trees"], scale["control"]]:
        assert {"watching_ms", "initial_ms", "rss_added_mb", "runs_at_start"} <= set(tree)
        assert tree["deep_save"]["n"] >= 1
    assert scale["trees"][1]["runs_at_start"] >= results["config"]["tree_files"]  # every .py ran at start
    assert [storm["save"] for storm in scale["storms"]] == ["in-place", "atomic"]
    assert all(storm["last_applied"] for storm in scale["storms"])


def test_update_part_measured_ours_and_jurigged_and_the_start_cost(quick_run: tuple[dict, str]) -> None:
    results, _ = quick_run
    update = results["update"]
    rows = {(row["subject"], row["save"]): row for row in update["rows"]}
    assert set(rows) == {("tracked", "in-place"), ("tracked", "atomic"), ("jurigged", "in-place")}
    for row in rows.values():
        assert STATS <= set(row) and {"attempted", "missed", "label"} <= set(row)
    assert rows["tracked", "in-place"]["n"] >= 1 and rows["tracked", "atomic"]["n"] >= 1, rows
    assert update["module_lines"] >= 900
    start = update["start"]
    assert start["modules"] == 30 and start["processes"] == results["config"]["repeats"]
    for figure in ("import_ms", "first_snapshot_ms", "later_snapshot_ms"):
        assert start[figure]["n"] >= 1, start
    closures = update["closures"]  # the process checks that each edit reached the route's handler
    assert closures["heap_objects"] >= results["config"]["heap_objects"] and closures["routes"] > 100
    for figure in ("update_ms", "update_without_host_ms", "get_referrers_ms"):
        assert closures[figure]["n"] == results["config"]["closure_edits"], closures


def test_toast_part_ran_or_says_why_not(quick_run: tuple[dict, str]) -> None:
    results, _ = quick_run
    toast = results["toast"]
    assert toast["status"] in {"ok", "skipped"}, toast
    if toast["status"] == "ok":
        assert toast["painted"]["n"] >= 1
    else:
        assert toast["reason"]


def test_the_stream_storms_report_their_figures(quick_run: tuple[dict, str]) -> None:
    results, stdout = quick_run
    storm, reconnect = results["stream"]["save_storm"], results["stream"]["reconnect_storm"]
    assert storm["status"] == reconnect["status"] == "ok", results["stream"]
    assert storm["every_stream_got_every_event"] and STATS <= set(storm["route"]["/app_id"])
    assert {"/app_id", "/config"} <= set(reconnect["route"]) and reconnect["connections_made"] >= 1
    assert {"warnings", "connections_held_after"} <= set(reconnect)
    assert "Event stream, " in stdout and "Reconnect storm, " in stdout


def test_targets_and_the_table_are_printed(quick_run: tuple[dict, str]) -> None:
    results, stdout = quick_run
    assert [t["target"].split(" ≤ ")[0].split(" ≥ ")[0] for t in results["targets"]] == [t.name for t in TARGETS]
    for target in results["targets"]:
        assert {"target", "measured", "unit", "met"} <= set(target)
    assert "| subject | save | load |" in stdout and "Targets:" in stdout
    assert "Save → updated in place: a tracked module of" in stdout
    assert "An edit of route handlers nested in an `on_app_started` callback" in stdout


def test_apply_part_timed_both_servers_and_each_answer_reported_its_save(quick_run: tuple[dict, str]) -> None:
    results, stdout = quick_run
    rows = {row["server"]: row for row in results["apply"]["rows"]}
    assert set(rows) == {"webui", "watch"}
    for row in rows.values():
        assert STATS <= set(row) and row["missed"] == 0 and row["n"] == row["attempted"], row
    assert "Save → `apply` answered" in stdout
