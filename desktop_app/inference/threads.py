"""The engine's threads: the engine, not the import order of its host program, decides them.

torch runs the model on its own intra-op pool. numpy's BLAS (OpenBLAS in numpy's wheels)
has a pool of its own, one thread per core, started when numpy is imported; its threads
busy-wait for a while after each BLAS call. A program that imported numpy before us (a
notebook, any library user) has that pool at full size, and any BLAS call near the model
leaves threads spinning against torch's: measured on a 2-core machine, the next forward
pass ran 2.5-3x slower. So, while the engine works, BLAS is limited to the calling thread
(threadpoolctl, restored afterwards: the host's own numpy keeps its settings), and torch's
pool is sized for the thread that runs the model (intra-op settings are per calling
thread in torch, pytorch #37259). Nothing here touches environment variables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import ThreadpoolController

# Built on first use, by which time numpy (hence its BLAS) is loaded: the controller only
# knows the libraries loaded when it was made.
_controller: ThreadpoolController | None = None


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def engine_threads(torch_threads: int) -> Iterator[None]:
    """Run the block with ``torch_threads`` intra-op threads and single-threaded BLAS."""
    if torch.get_num_threads() != torch_threads:
        torch.set_num_threads(torch_threads)
    with _blas().limit(limits=1, user_api="blas"):
        yield



@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for a block of many tiny operations (ROAD's imputation solver,
    the linear probe's L-BFGS): splitting each over threads costs more in synchronisation
    than it gains, and on a busy machine each split waits for a time slice. Measured on the
    2-core machine: one imputation 10 s with 2 threads, 2.8 s with 1; a retraining's probe
    (4 fits of a 130 x 512 logistic regression) dominated its time with 2."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
