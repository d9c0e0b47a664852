"""Shared test helpers: `make_store` writes a tiny data root from a dict; `run_audit` audits one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from lineage.analyses.audit import audit
from lineage.loaders.networkx_graph import NetworkxBackend
from lineage.loaders.store import scan


def write_tree(root: Path, spec: dict[str, Any]) -> Path:
    """Write `spec` under `root`: {relative path: content}.

    dict/list -> JSON with 2-space indent (as the pipeline writes metadata), str -> UTF-8 text,
    bytes -> written as is (for broken files), None with a trailing '/' -> an empty folder.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in spec.items():
        path = root / rel
        if content is None:
            if not rel.endswith("/"):
                raise ValueError(f"{rel!r}: None makes an empty folder, so the path must end with '/'")
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (dict, list)):
            path.write_text(json.dumps(content, indent=2, ensure_ascii=False), encoding="utf-8")
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            raise TypeError(f"{rel!r}: cannot write a {type(content).__name__}")
    return root


@pytest.fixture
def make_store(tmp_path) -> Callable[[dict[str, Any]], Path]:
    """make_store(spec) -> the root of a fresh data root (tmp_path/data, data2, ...) built from spec."""
    made = 0

    def make(spec: dict[str, Any]) -> Path:
        nonlocal made
        made += 1
        return write_tree(tmp_path / ("data" if made == 1 else f"data{made}"), spec)

    return make


def run_audit(root) -> dict:
    """The contract-1.0 report of the networkx audit of `root`, as a dict."""
    root = str(root)
    return audit(NetworkxBackend.from_store(scan(root)), root).as_dict()
