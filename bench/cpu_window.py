"""Who has the CPU while a warm ``%%speak`` cell makes its first audio, in real JupyterLab + Chromium.

The notebook is bench_notebook.py's. Before each measured cell (the second of two with the same voice,
as there) every thread of the voice server, the kernel, the Jupyter server and Chromium is read from
``/proc/PID/task/TID/schedstat`` (CPU time, and time spent runnable but waiting for a core), and read
again a fixed window after the key press: 150 ms for piper (its first audio comes at about that time),
80 ms for heart. Two reads per run, so the probe itself costs next to nothing. The machine has two cores:
a window of W ms holds 2W core-ms. Differences are taken thread by thread; a thread that ends inside the
window is not seen, so its last share is missing (the figures are lower bounds).

    python bench/cpu_window.py [--repeats 8] [--write]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_notebook import CELLS, HEART, INDEX, notebook, stop_voice_servers  # noqa: E402
from bench.common import machine_line, write_section  # noqa: E402
from bench.jupyter_app import CHROMIUM, CHROMIUM_ARGS, JupyterApp  # noqa: E402
from bench.notebook_page import open_notebook, run_and_wait, silence_players, speak  # noqa: E402

WINDOW_MS = {"piper300": 150, "heart300": 80}
GROUPS = ("voice server", "kernel", "Jupyter server", "Chromium: page", "Chromium: the rest")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def groups(jupyter_pid: int, runtime: Path) -> dict[str, list[int]]:
    """The PIDs of each group (the page: Chromium's busiest renderer, the one running JupyterLab)."""
    server = [int(json.loads(f.read_text())["pid"]) for f in runtime.glob("eleven_nb-server-*.json")]
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    kernels = [p for p in pids if parent(p) == jupyter_pid and "ipykernel" in cmdline(p)]
    chromium = [p for p in pids if "/chromium" in cmdline(p).split(" ", 1)[0]]
    renderers = [p for p in chromium if "--type=renderer" in cmdline(p) and "--top-chrome-webui" not in cmdline(p)]
    page = max(renderers, key=lambda p: sum(cpu_wait(p)), default=None)
    return {"voice server": server, "kernel": kernels, "Jupyter server": [jupyter_pid],
            "Chromium: page": [page] if page else [], "Chromium: the rest": [p for p in chromium if p != page]}


def threads(pid: int) -> dict[str, tuple[int, int]]:
    """Each thread's ns on a CPU and ns runnable but waiting for one."""
    out: dict[str, tuple[int, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            c, w, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        out[f"{pid}/{tid}"] = (int(c), int(w))
    return out


def cpu_wait(pid: int) -> tuple[int, int]:
    """ns on a CPU and ns waiting, summed over the process's threads (to find the busiest renderer)."""
    per = threads(pid).values()
    return sum(c for c, _ in per), sum(w for _, w in per)


def snapshot(pids: dict[str, list[int]]) -> dict[str, dict[str, tuple[int, int]]]:
    return {name: {k: v for p in members for k, v in threads(p).items()} for name, members in pids.items()}


def delta(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> tuple[float, float]:
    """ms of CPU and of waiting in the window, thread by thread: a thread made in the window counts from
    zero; one that ended in it is not seen (its last share is lost, never subtracted)."""
    cpu = sum(c - before.get(k, (0, 0))[0] for k, (c, _) in after.items())
    wait = sum(w - before.get(k, (0, 0))[1] for k, (_, w) in after.items())
    return cpu / 1e6, wait / 1e6


def measured(page, index: int, pids: dict[str, list[int]], window_ms: int) -> dict[str, tuple[float, float]]:
    """Run the cell; CPU and waiting ms of each group in the first ``window_ms`` after the key press."""
    snaps: dict[str, dict[str, dict[str, tuple[int, int]]]] = {}
    timer = threading.Timer(window_ms / 1000, lambda: snaps.update(after=snapshot(pids)))

    def press() -> None:
        snaps["before"] = snapshot(pids)
        timer.start()

    speak(page, index, before_press=press)
    timer.join()
    before, after = snaps["before"], snaps["after"]
    return {g: delta(before[g], after[g]) for g in pids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="also put the table in bench/RESULTS.md")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="enb-cpu-"))
    root, runtime = base / "nb", base / "enb-runtime"
    root.mkdir()
    notebook(root / "bench.ipynb", list(CELLS.values()))
    env = {"ELEVEN_NB_ENGINE": "piper", "ELEVEN_NB_TRACE": "1", "ELEVEN_NB_PLAYER_DEBUG": "1",
           "ELEVEN_NB_RUNTIME_DIR": str(runtime)}
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    runs: dict[str, list[dict[str, tuple[float, float]]]] = {name: [] for name in WINDOW_MS}
    app = JupyterApp(root, env=env)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = open_notebook(browser, app, "bench.ipynb")
            run_and_wait(page, INDEX["load"])
            run_and_wait(page, INDEX["warm_heart"])
            silence_players(page)
            pids = groups(app.proc.pid, runtime)
            for i in range(args.repeats):
                for name in (WINDOW_MS if i % 2 == 0 else list(WINDOW_MS)[::-1]):
                    speak(page, INDEX[name])  # the measured cell follows one with the same voice
                    page.wait_for_timeout(300)
                    runs[name].append(measured(page, INDEX[name], pids, WINDOW_MS[name]))
                    page.wait_for_timeout(300)
            browser.close()
    finally:
        app.stop()
        stop_voice_servers(runtime)
    lines = []
    for name, window in WINDOW_MS.items():
        voice = "piper (joe)" if name == "piper300" else f"hibari ({HEART})"
        lines += [f"\n**{voice}**, the first {window} ms after Ctrl+Enter ({2 * window} core-ms on 2 cores), "
                  f"medians of {len(runs[name])} runs:\n", "| process | CPU (ms) | runnable, waiting for a core (ms) |",
                  "|---|---|---|"]
        for g in GROUPS:
            cpu = statistics.median(r[g][0] for r in runs[name])
            wait = statistics.median(r[g][1] for r in runs[name])
            lines.append(f"| {g} | {cpu:.0f} | {wait:.0f} |")
        total = statistics.median(sum(r[g][0] for g in GROUPS) for r in runs[name])
        lines.append(f"| all of these | {total:.0f} | |")
    body = (f"{machine_line()} Load average at start: {load}.\n\n`python bench/cpu_window.py --repeats "
            f"{args.repeats}`: bench_notebook.py's notebook and cells; CPU time and run-queue waiting of every "
            "thread of each process, read from /proc before the key press and a fixed window after it.\n" +
            "\n".join(lines) + "\n\nAll runs (ms, CPU / waiting): " +
            json.dumps({n: [{g: [round(c, 1), round(w, 1)] for g, (c, w) in r.items()} for r in rs]
                        for n, rs in runs.items()}) + ".")
    print(body)
    if args.write:
        write_section("Notebook: who has the CPU before the first audio", body)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
