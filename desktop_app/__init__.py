"""ResNet Lens: top-k ImageNet predictions with Grad-CAM overlays."""

import os

# numpy's OpenBLAS spins a thread per core for the small products that warp CAM grids onto
# images; on a CPU busy with the model that costs ~16 ms per product instead of 0.03 ms, and
# starves the GUI thread. One thread is fastest at every size we use (measured up to 24 MP).
# Effective only before numpy loads, which is why it lives at the package root.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
