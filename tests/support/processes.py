"""The one way the tests start a child process: the CLI, the app, a Python snippet or a built
executable, as a user would, with the network blocked in Python children too."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Python children inherit the session's private TORCH_HOME; their sockets are blocked as well,
# so a download attempt fails loudly instead of fetching.
_NETWORK_GUARD = (
    "import socket\n"
    "def _no_network(*a, **k): raise OSError('network blocked in tests')\n"
    "socket.create_connection = _no_network; socket.getaddrinfo = _no_network\n"
    "del socket, _no_network\n"
)
_CLI = "import sys\nfrom desktop_app.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = True,
    drop_env: Sequence[str] = (),
    cwd: Path = REPO,
    timeout: float = 300,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with text output captured. ``env`` is added to this process's environment
    (or replaces it with ``inherit_env=False``); ``drop_env`` names variables to remove."""
    environment = {**(os.environ if inherit_env else {}), **(env or {})}
    for name in drop_env:
        environment.pop(name, None)
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=environment,
        check=check,
    )


def run_python(code: str, *args: str, network_guard: bool = True,
               **options: object) -> subprocess.CompletedProcess[str]:
    """``python -c code args…`` in this interpreter, network blocked unless the child needs
    local TCP sockets (a Ray instance)."""
    return run(_python_argv(code, args, network_guard), **options)  # type: ignore[arg-type]


def run_cli(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    """``resnet-lens args…`` from this checkout, network blocked (see ``run_python``)."""
    return run_python(_CLI, *args, **options)  # type: ignore[arg-type]


def start_cli(*args: str) -> subprocess.Popen[bytes]:
    """``resnet-lens args…`` started in the background (output discarded), network blocked:
    for a test that interrupts it."""
    return subprocess.Popen(_python_argv(_CLI, args, True), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _python_argv(code: str, args: Sequence[str], network_guard: bool) -> list[str]:
    return [sys.executable, "-c", (_NETWORK_GUARD if network_guard else "") + code, *args]
