"""lineage: a graph-backed lineage analyzer for the DayDreaming generation store."""


def __getattr__(name: str):
    # Looked up on first use: importlib.metadata costs ~30 ms, and the scan's helper process
    # imports this package without ever needing the version.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("daydream-lineage")
        except PackageNotFoundError:  # running from a checkout that was never installed
            value = "0.0.0"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
