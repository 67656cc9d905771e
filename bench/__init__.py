"""Benchmarks: how fast a save reaches the running process, beside the peers, and what the reloader
costs when nothing happens. Run `./dev.sh bench` (or `.venv/bin/python -m bench`); see docs/benchmarks.md.

    writer.py         the one writer: the same saves (in place, or atomic temp + rename) for every subject
    agent.py          one subject in its own process, with a tight loop reporting when a call returns new code
    scan_baseline.py  the 2 s mtime scan (text-generation-webui's hot_reload extension), reimplemented
    latency.py        save -> applied series, for ours and the peers
    rest.py           cost at rest: import times, app-started callback, idle CPU, RSS
    scale.py          a 10 000-file tree, and a storm of 1 000 saves in one second
    toast.py          save -> toast in a real page (headless Chromium on the demo page)
    stream.py         the event stream under load: a plain route's latency while 200 pages take a
                      save storm, and while 100 pages keep reconnecting
    update.py         save -> updated in place: a tracked 1000-line module, ours and jurigged; tracking's start cost
    report.py         statistics, targets, the table and results.json
"""
