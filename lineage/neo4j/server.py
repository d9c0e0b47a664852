"""Run a local Neo4j server through neo4j/neo4j.sh (the jars come from Maven Central).

The script ships inside the package (folder `neo4j/` is package `lineage.neo4j_runtime`), so
this works from a checkout and from an installed wheel. Everything is passed to the script in
its environment: the ports, and the password of the persistent server, which is never put on
a command line, printed or logged.

Both servers run with authentication on. The ephemeral one gets a random password, written to
`<home>/password` (mode 600); `ephemeral_password` reads it for a URI that names that instance.
Auth stays on even there because Neo4j's Bolt port also speaks Bolt over WebSocket and accepts
a handshake from any web page (it checks no Origin, and 5.26 has no setting for one).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

from lineage.core.status import LineageError, UsageError

SCRIPT = "neo4j.sh"
NOT_RUNNING = 3  # neo4j.sh status: the instance is not running
DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474
MIN_PASSWORD = 8
_TRUE = ("1", "true", "yes")

Echo = Callable[[str], None]


def script_path() -> Path:
    """neo4j.sh of an installed package (lineage/neo4j_runtime/) or of a checkout (neo4j/)."""
    here = Path(__file__).resolve().parents[1]  # the lineage package
    for candidate in (here / "neo4j_runtime" / SCRIPT, here.parent / "neo4j" / SCRIPT):
        if candidate.is_file():
            return candidate
    raise LineageError(f"{SCRIPT} not found next to the lineage package (looked in {here / 'neo4j_runtime'} "
                       f"and {here.parent / 'neo4j'}); reinstall daydream-lineage")


@dataclass(frozen=True)
class Instance:
    """Which server: the persistent one or an ephemeral one (a throwaway home and a random
    password), and its ports.

    Ports left as None come from LINEAGE_NEO4J_BOLT_PORT / LINEAGE_NEO4J_HTTP_PORT, else
    7687 / 7474. An ephemeral instance is keyed by its Bolt port: stop it with the same port.
    """

    ephemeral: bool = False
    bolt_port: Optional[int] = None
    http_port: Optional[int] = None
    timeout: Optional[int] = None  # seconds `start` waits for the server to answer

    @property
    def is_ephemeral(self) -> bool:
        return self.ephemeral or os.environ.get("LINEAGE_NEO4J_EPHEMERAL", "0").lower() in _TRUE

    def _env_port(self, name: str, default: int) -> int:
        value = os.environ.get(name, "")
        if not value:
            return default
        if not value.isdigit():
            raise UsageError(f"{name} must be a port number, got {value!r}")
        return int(value)

    @property
    def bolt(self) -> int:
        return self.bolt_port or self._env_port("LINEAGE_NEO4J_BOLT_PORT", DEFAULT_BOLT_PORT)

    @property
    def http(self) -> int:
        return self.http_port or self._env_port("LINEAGE_NEO4J_HTTP_PORT", DEFAULT_HTTP_PORT)

    @property
    def home(self) -> Path:
        """The instance's folder, as neo4j.sh computes it."""
        if self.is_ephemeral:
            default = Path(os.environ.get("TMPDIR") or "/tmp") / f"lineage-neo4j-ephemeral-{os.getuid()}-{self.bolt}"
            return Path(os.environ.get("LINEAGE_NEO4J_EPHEMERAL_HOME") or default)
        return Path(os.environ.get("LINEAGE_NEO4J_HOME") or Path.home() / ".local/share/lineage/neo4j")

    def ports(self) -> tuple[int, int]:
        """(bolt, http) the instance was started with (run/instance), else the configured ones."""
        bolt, http = self.bolt, self.http
        try:
            state = (self.home / "run" / "instance").read_text(encoding="utf-8")
        except OSError:
            return bolt, http
        values = dict(line.split("=", 1) for line in state.splitlines() if "=" in line)
        if values.get("bolt_port", "").isdigit() and values.get("http_port", "").isdigit():
            return int(values["bolt_port"]), int(values["http_port"])
        return bolt, http

    def environment(self, password: Optional[str] = None) -> dict[str, str]:
        env = dict(os.environ)
        if self.bolt_port:
            env["LINEAGE_NEO4J_BOLT_PORT"] = str(self.bolt_port)
        if self.http_port:
            env["LINEAGE_NEO4J_HTTP_PORT"] = str(self.http_port)
        if self.timeout:
            env["LINEAGE_NEO4J_WAIT_TIMEOUT"] = str(self.timeout)
        if password is not None:
            env["NEO4J_PASSWORD"] = password
        return env

    def flags(self) -> list[str]:
        return ["--ephemeral"] if self.ephemeral else []


EPHEMERAL_TAG = ".lineage-neo4j-ephemeral"  # neo4j.sh marks an ephemeral home with it
PASSWORD_FILE = "password"  # in an ephemeral home
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def loopback_bolt_port(uri: str) -> Optional[int]:
    """The Bolt port of a bolt:// or neo4j:// URI to the loopback (a server this user may run
    here); None for any other URI."""
    try:
        parts = urlsplit(uri)
        port = parts.port or DEFAULT_BOLT_PORT
    except ValueError:
        return None
    if parts.scheme not in ("bolt", "neo4j") or parts.hostname not in LOOPBACK:
        return None
    return port


def ephemeral_password(uri: str) -> Optional[str]:
    """The password of this user's ephemeral instance that `uri` names (bolt:// or neo4j:// to
    the loopback on its Bolt port), from <home>/password; None for any other URI.

    The file counts only in a home neo4j.sh made (its tag), owned by this user, and when it is
    a regular file nobody else can read: anything else is ignored, never trusted.
    """
    port = loopback_bolt_port(uri)
    if port is None:
        return None
    instance = Instance(ephemeral=True, bolt_port=port)
    try:
        home = instance.home
        if instance.ports()[0] != port or not (home / EPHEMERAL_TAG).is_file():
            return None
        if os.lstat(home).st_uid != os.getuid():
            return None
        fd = os.open(home / PASSWORD_FILE, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except (OSError, UsageError):
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        password = fh.read(256).decode("ascii", "replace").strip()
    return password or None


def local_instance(uri: str) -> Optional[Instance]:
    """The server of `lineage neo4j start` (ephemeral or persistent, this user's) that `uri`
    names: a loopback bolt:// or neo4j:// URI on the Bolt port its home records. None for any
    other server, which lineage does not run and so cannot stop for an offline import."""
    port = loopback_bolt_port(uri)
    if port is None:
        return None
    for instance in (Instance(ephemeral=True, bolt_port=port), Instance(ephemeral=False)):
        try:
            home = instance.home
            if not (home / "run" / "instance").is_file() or instance.ports()[0] != port:
                continue
            if os.lstat(home).st_uid != os.getuid():
                continue
            if instance.is_ephemeral and not (home / EPHEMERAL_TAG).is_file():
                continue
        except (OSError, UsageError):
            continue
        return instance
    return None


def import_database(instance: Instance, arguments: list[str], out: Optional[Echo] = None,
                    err: Optional[Echo] = None) -> None:
    """Stop the instance, run `neo4j-admin database import full neo4j ARGUMENTS` (replacing
    database neo4j), start it again and wait until Bolt answers (neo4j.sh import)."""
    _run("import", instance, ["--", *arguments], None, out, err)


def check_password(password: Optional[str]) -> str:
    """The persistent server's password rules (Neo4j's and the script's), as a UsageError."""
    if not password:
        raise UsageError("NEO4J_PASSWORD is not set: the persistent server runs with authentication on; "
                         "export NEO4J_PASSWORD (at least 8 characters), or use --ephemeral for a throwaway server")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the Neo4j password is too short: Neo4j requires at least {MIN_PASSWORD} characters")
    if "\n" in password or "\r" in password:
        raise UsageError("the Neo4j password must not contain line breaks")
    return password


def _run(action: str, instance: Instance, extra: list[str], password: Optional[str] = None,
         out: Optional[Echo] = None, err: Optional[Echo] = None) -> int:
    """Run `neo4j.sh ACTION`, forwarding its lines; a `neo4j.sh: error:` becomes a LineageError.

    Lines reach the terminal with control characters escaped: on a failed start the script
    shows the tail of Neo4j's logs, which can quote data."""
    from lineage.core.text import terminal_text

    def shown(line: str) -> str:
        return terminal_text(line.rstrip("\n")) + "\n" if line.endswith("\n") else terminal_text(line)

    out = out or (lambda line: (sys.stdout.write(shown(line)), sys.stdout.flush()))
    err = err or (lambda line: (sys.stderr.write(shown(line)), sys.stderr.flush()))
    cmd = ["bash", str(script_path()), action, *instance.flags(), *extra]
    try:
        proc = subprocess.Popen(cmd, env=instance.environment(password), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    except FileNotFoundError:
        raise LineageError("bash is needed to run the local Neo4j server") from None
    errors: list[str] = []

    def pump_err():
        for line in proc.stderr:
            if errors or line.startswith("neo4j.sh: error: "):
                errors.append(line.removeprefix("neo4j.sh: error: ").strip())
            else:
                err(line)

    reader = threading.Thread(target=pump_err, daemon=True)
    reader.start()
    for line in proc.stdout:
        out(line)
    code = proc.wait()
    reader.join()
    if errors:
        raise LineageError(" ".join(part for part in errors if part))
    if code not in (0, NOT_RUNNING) or (code == NOT_RUNNING and action != "status"):
        raise LineageError(f"neo4j.sh {action} failed with exit status {code}")
    return code


def start(instance: Instance, password: Optional[str] = None, wait: bool = True,
          out: Optional[Echo] = None, err: Optional[Echo] = None) -> None:
    """Start the instance (download the jars the first time); with `wait`, until Bolt answers.

    The persistent server needs `password`: it becomes the password of user neo4j when the
    data folder is created, and is checked against a running server otherwise. An ephemeral
    server makes its own random password (in <home>/password) and ignores it.
    """
    password = None if instance.is_ephemeral else check_password(password)
    _run("start", instance, ["--wait"] if wait else [], password, out, err)


def stop(instance: Instance, out: Optional[Echo] = None, err: Optional[Echo] = None) -> None:
    """Stop the instance (SIGTERM, then SIGKILL after a timeout); an ephemeral home is deleted."""
    _run("stop", instance, [], None, out, err)


def status(instance: Instance, out: Optional[Echo] = None, err: Optional[Echo] = None) -> int:
    """0 when the instance is running, NOT_RUNNING (3) when it is not."""
    return _run("status", instance, [], None, out, err)


def auth_disabled(http_port: int, host: str = "127.0.0.1", timeout: float = 3.0) -> Optional[bool]:
    """Ask the server over HTTP whether it runs without authentication; None if it does not answer.

    An empty transaction without credentials succeeds only when auth is off (401 otherwise).
    """
    request = urllib.request.Request(f"http://{host}:{http_port}/db/neo4j/tx/commit",
                                     data=json.dumps({"statements": []}).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return False
        return None
    except (OSError, ValueError):
        return None
