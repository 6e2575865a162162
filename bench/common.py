"""Helpers shared by the benchmarks (and usable by tests): the machine line, the results file,
a child server, a real kernel."""
from __future__ import annotations

import atexit
import datetime
import os
import platform
import re
import socket
import subprocess
from pathlib import Path

from eleven_nb.spawn import spawn_server

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine_line() -> str:
    cpu = "unknown CPU"
    try:
        if found := re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()):
            cpu = found.group(1)
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"Machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}. Date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}.")


def write_section(title: str, body: str) -> None:
    """Replace (or append) the section ``## title`` of bench/RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nWritten by the scripts in bench/.\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)
    print(f"wrote '{title}' to {RESULTS}")


def start_server(engine: str = "piper", *extra: str) -> tuple[subprocess.Popen, str]:
    """Start ``eleven-nb serve`` on a free loopback port; return (process, http URL). """
    child = spawn_server(engine, *extra)
    atexit.register(child.drop_empty_log)  # the callers stop the process themselves
    return child.proc, child.url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Kernel:
    """A real IPython kernel (jupyter_client) started with ``env``; :meth:`run` executes code in it."""

    def __init__(self, env: dict[str, str], timeout: float = 120) -> None:
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=timeout)

    @property
    def pid(self) -> int:
        return self.manager.provisioner.process.pid  # type: ignore[union-attr]

    def run(self, code: str, timeout: float = 180) -> str:
        """Execute ``code``; return what it printed. Raises RuntimeError (with the traceback) if it failed."""
        out: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        if reply["content"]["status"] != "ok":
            raise RuntimeError("".join(out))
        return "".join(out)

    def shutdown(self) -> None:
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=True)


def status_mb(field: str, pid: int | str = "self") -> float:
    """A memory field of /proc/PID/status (VmRSS, VmHWM, ...) in MB; NaN if the process has none."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")
