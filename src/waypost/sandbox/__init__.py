"""A faithful local emulator of the carrier APIs over real loopback HTTP (``waypost sandbox``).

One server hosts every carrier under its own prefix, so ``{base}/ils`` plays the role of
``http://106.52.44.213:8485`` and the documented paths follow unchanged. Each carrier's
emulation lives in its own module (``sandbox/ils.py`` ...) with its demo data; this package
adds the request log, latency, rate-limit accounting and fault injection they share, and the
control endpoints under ``/_sandbox/`` that tests and benchmarks use.
"""

from waypost.sandbox.server import Sandbox

__all__ = ["Sandbox"]
