"""The store suite shares the reliability suite's fast TrackingMore limits (its fault cases run
the CLI against the sandbox)."""

from tests.reliability.conftest import fast_trackingmore

__all__ = ["fast_trackingmore"]
