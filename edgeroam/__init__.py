"""edgeroam: a mobility-aware edge-computing emulator.

Real GPS traces are replayed over a hexagonal grid of Wi-Fi cells, each with an edge server; DNN layers are
offloaded and migrated between servers ahead of the user. See DESIGN.md for the architecture.
"""

from edgeroam.errors import EdgeroamError

__all__ = ["EdgeroamError", "__version__"]
__version__ = "0.1.0"
