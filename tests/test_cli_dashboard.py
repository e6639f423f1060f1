"""`qualitylib dashboard` runs Streamlit as a child: stopping the command stops the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qualitylib.cli import main

START_TIMEOUT_S = 90  # Streamlit's start on a loaded 2-core machine
STOP_TIMEOUT_S = 60  # the server gets cli.STOP_GRACE_S (3 s), then is killed; 60: a loaded machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_command_stops_the_streamlit_server(
    db: Path, write, stop: signal.Signals
) -> None:
    """SIGTERM to the command's PID (systemd, kill), or SIGINT to it alone (not its group)."""
    labels = write("a.csv", "item_id,annotator_id,label,annotated_at\na,bob,safe,2026-09-01")
    assert main(["import", "--db", str(db), "--kind", "annotations", str(labels)]) == 0
    port = _free_port()
    command = [sys.executable, "-m", "qualitylib.cli", "dashboard", "--db", str(db)]
    parent = subprocess.Popen(
        [*command, "--port", str(port), "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group, so the test can clean up whatever is left
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(port):
            assert parent.poll() is None, "the dashboard command ended before serving"
            assert time.monotonic() < deadline, "Streamlit did not start"
            time.sleep(0.2)
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        assert len(children) == 1
        server = int(children[0])

        os.kill(parent.pid, stop)
        assert parent.wait(timeout=STOP_TIMEOUT_S) == 128 + stop
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(server) or _listening(port):
            assert time.monotonic() < deadline, "the Streamlit server outlived the command"
            time.sleep(0.2)
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        parent.wait()
