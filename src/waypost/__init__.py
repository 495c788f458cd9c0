"""waypost: track parcels from the terminal."""

__version__ = "0.1.0"
