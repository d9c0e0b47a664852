"""lineage: a graph-backed lineage analyzer for the DayDreaming generation store."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("daydream-lineage")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
