"""bssmask: time-frequency masks (oracle, heads, losses) for Asteroid."""

from bssmask.compat import quiet_pkg_resources

__version__ = "0.1.0"

quiet_pkg_resources()
