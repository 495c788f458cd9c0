"""waypost: track parcels from the terminal."""

import sys

__version__ = "0.1.0"

# httpx's __init__ imports its command-line module (httpx._main), which pulls in click, rich and
# pygments whenever they are installed (~40 ms; none of it is used here). A None entry makes
# that import fail at once, and httpx then falls back to its own stub `main`. Set here, before
# any waypost module can import httpx; a no-op when httpx and its CLI are already loaded.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
