"""A real multi-node Ray cluster on localhost, started with ``ray start`` and stopped by PID.

``ray stop`` would stop every Ray process on the machine (other tests', other users'), so
each node is started in its own session, which its raylet, agents, log monitor and worker
processes share: ``kill_node`` SIGKILLs one node's processes (a lost machine), ``stop``
every node's. Private ``--temp-dir``s keep the session files, sockets and
``ray_current_cluster`` away from ``/tmp/ray``. ``RAY_AUTH_MODE`` is set
identically for every command (see ../shared/RAY_NOTES.md, item 8).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: GCS health checks tuned so that a killed node is declared dead in ~2 s, not ~15 s.
_FAST_FAILURE_DETECTION = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ray_env(**extra: str) -> dict[str, str]:
    """The environment of every Ray command and driver the tests start."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}
    env.pop("RAY_ADDRESS", None)
    env.update(extra)
    return env


def _ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


@dataclass
class Node:
    """One ``ray start`` node: the session its processes share.

    ``ray start`` runs in a new session (and process group) whose id is its PID. The
    raylet, the agents and the log monitor stay in that process group; Ray's worker
    processes (the trials) start their own process groups but stay in the session.
    """

    name: str
    sid: int
    alive: bool = True

    def pids(self) -> list[int]:
        """PIDs of the node's processes still running."""
        out = subprocess.run(["ps", "-eo", "pid=,sid="], capture_output=True, text=True).stdout
        return [int(p) for p, s in (line.split() for line in out.splitlines()) if int(s) == self.sid]


@dataclass
class LocalRayCluster:
    """A head (no CPUs, dashboard and Ray Client server on) and worker nodes on localhost.

    Attributes:
        temp_dir: The private ``--temp-dir`` of every node.
        gcs_address: ``127.0.0.1:PORT`` for ``ray.init`` / ``meta-tune run --address``.
        dashboard_url: ``http://127.0.0.1:PORT`` for Ray Jobs and the state API.
        client_address: ``ray://127.0.0.1:PORT`` (Ray Client).
        workers: The worker nodes, in the order they were started.
    """

    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mtray-")))
    gcs_address: str = ""
    dashboard_url: str = ""
    client_address: str = ""
    head: Node | None = None
    workers: list[Node] = field(default_factory=list)

    def _launch(self, name: str, args: list[str]) -> tuple[Node, subprocess.Popen[str]]:
        # start_new_session: each node's processes get their own process group (the one
        # kill_node SIGKILLs), apart from the pytest process group. Each node gets its own
        # temp dir, as on separate machines: with a shared one, a worker node unpacking a
        # job's working_dir replaces the head's copy, the job driver's current directory.
        temp_dir = self.temp_dir / name
        temp_dir.mkdir(parents=True, exist_ok=True)
        command = [_ray_bin(), "start", f"--temp-dir={temp_dir}", "--disable-usage-stats", *args]
        proc = subprocess.Popen(
            command, env=ray_env(**_FAST_FAILURE_DETECTION), start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        return Node(name, proc.pid), proc

    @staticmethod
    def _wait(name: str, proc: subprocess.Popen[str]) -> None:
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start ({name}) failed:\n{output[-3000:]}")

    def start(self, *, workers: int = 2, cpus: float = 2, gpus: float = 1) -> LocalRayCluster:
        """Start the head, then ``workers`` nodes with ``cpus`` CPUs and ``gpus`` logical GPUs."""
        port, dashboard, client = free_port(), free_port(), free_port()
        self.gcs_address = f"127.0.0.1:{port}"
        self.dashboard_url = f"http://127.0.0.1:{dashboard}"
        self.client_address = f"ray://127.0.0.1:{client}"
        try:
            self.head, proc = self._launch("head", [
                "--head", f"--port={port}", "--num-cpus=0", "--num-gpus=0", "--include-dashboard=true",
                "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
                f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={free_port()}",
            ])
            self._wait("head", proc)
            for index in range(workers):  # one at a time: two raylets registering at once time out
                node, proc = self._launch(f"worker{index}", [
                    f"--address={self.gcs_address}", f"--num-cpus={cpus}", f"--num-gpus={gpus}",
                    f"--dashboard-agent-listen-port={free_port()}",
                ])
                self.workers.append(node)
                self._wait(node.name, proc)
            self.wait_for_nodes(1 + workers)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_nodes(self, count: int, timeout: float = 60) -> None:
        """Wait until the state API lists ``count`` alive nodes."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if len(self.alive_nodes()) >= count:
                    return
            except Exception:  # the dashboard is still starting
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} Ray nodes did not come up in {timeout} s")
            time.sleep(0.5)

    def alive_nodes(self) -> list[Any]:
        from ray.util.state import list_nodes

        return [n for n in list_nodes(address=self.dashboard_url, detail=True) if n.state == "ALIVE"]

    def worker_node_ids(self) -> set[str]:
        """Node ids of the alive nodes that declare GPUs (the workers)."""
        return {n.node_id for n in self.alive_nodes() if n.resources_total.get("GPU")}

    def trial_actors(self, state: str | None = None) -> list[Any]:
        """Tune's trial actors (function trainables run in ``ImplicitFunc`` actors)."""
        from ray.util.state import list_actors

        filters: list[Any] = [("class_name", "=", "ImplicitFunc")]
        if state:
            filters.append(("state", "=", state))
        return list(list_actors(address=self.dashboard_url, filters=filters, detail=True, limit=10_000))

    def kill_node(self, node: Node) -> None:
        """SIGKILL a node like a lost machine: its raylet's process group, then its trial workers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.sid, signal.SIGKILL)
        for pid in node.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node.alive = False

    def stop(self) -> None:
        """SIGKILL every process the nodes started; delete the private temp dir."""
        for node in [*self.workers, *([self.head] if self.head else [])]:
            self.kill_node(node)
        deadline = time.monotonic() + 10
        nodes = [*self.workers, *([self.head] if self.head else [])]
        while any(n.pids() for n in nodes) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
