"""bssmask: time-frequency masks (oracle, heads, losses) for Asteroid."""

__version__ = "0.1.0"
