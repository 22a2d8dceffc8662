"""Run ``resnet-lens`` in a child process, as a user would, with the network blocked there too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The child inherits the session's private TORCH_HOME; its sockets are blocked as well, so a
# download attempt fails loudly instead of fetching.
_GUARD = (
    "import socket,sys\n"
    "def _no(*a, **k): raise OSError('network blocked in tests')\n"
    "socket.create_connection = _no; socket.getaddrinfo = _no\n"
    "from desktop_app.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _GUARD, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
