"""lineage as a user installs it: a wheel built from this checkout, installed with the [neo4j]
extra into a fresh virtual environment outside the checkout, run from a folder that is not the
checkout. The bundled example store, the check catalog and the Neo4j runtime come with it.
"""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(args, cwd, env, timeout=600):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder, a working folder outside the checkout, the environment to run in)."""
    base = tmp_path_factory.mktemp("wheel")
    assert REPO not in base.parents
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(base / "dist"), str(REPO)],
                base, env)
    assert built.returncode == 0, built.stderr
    assert "Python recognizes" not in built.stderr and "license" not in built.stderr.lower(), built.stderr
    wheel = next((base / "dist").glob("daydream_lineage-*.whl"))
    venv.create(base / "venv", with_pip=True)
    bin_dir = base / "venv" / "bin"
    done = run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[neo4j]"], base, env)
    assert done.returncode == 0, done.stderr
    work = base / "work"
    work.mkdir()
    return bin_dir, work, env


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    bin_dir, work, env = installed
    done = run([str(bin_dir / "python"), "-c", "import lineage, neo4j; print(lineage.__file__)"], work, env)
    assert done.returncode == 0, done.stderr
    assert str(bin_dir.parent) in done.stdout and str(REPO) not in done.stdout


def test_demo_audits_the_bundled_example(installed):
    bin_dir, work, env = installed
    done = run([str(bin_dir / "lineage"), "demo", "--format", "json"], work, env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sum(report["statistics"]["generations"].values()) == 295
    assert "site-packages" in report["data_root"]


def test_audit_checks_and_neo4j_help(installed, tmp_path):
    bin_dir, work, env = installed
    lineage = str(bin_dir / "lineage")
    store = tmp_path / "store"
    assert run([lineage, "generate", str(store), "-n", "300", "--problem", "chain.parent_missing"], work,
               env).returncode == 0
    audit = run([lineage, "audit", str(store), "--format", "json", "--no-progress"], work, env)
    assert audit.returncode == 1, audit.stderr  # the planted error
    assert {f["check"] for f in json.loads(audit.stdout)["findings"]} >= {"chain.parent_missing"}
    checks = run([lineage, "checks", "--format", "json"], work, env)
    assert checks.returncode == 0 and len(json.loads(checks.stdout)) >= 20
    # Every check's Cypher file came with the wheel.
    detail = run([lineage, "checks", "chain.parent_missing", "--format", "json"], work, env)
    assert detail.returncode == 0 and json.loads(detail.stdout)["example"]["check"] == "chain.parent_missing"
    help_ = run([lineage, "neo4j", "--help"], work, env)
    assert help_.returncode == 0 and "start" in help_.stdout and "browse" in help_.stdout
    script = run([str(bin_dir / "python"), "-c",
                  "from lineage.neo4j.server import script_path; print(script_path())"], work, env)
    assert script.returncode == 0 and Path(script.stdout.strip()).is_file()
