"""A throwaway PostgreSQL cluster for tests: initdb in a temp directory, a free port, pg_ctl start/stop.

initdb refuses to run as root, so as root the cluster belongs to an unprivileged user (`SOPHIA_PG_USER`, default
`nobody`) and its directory is handed to that user; otherwise it runs as the current user. The server binaries come
from `SOPHIA_PG_BIN` or the newest `/usr/lib/postgresql/<version>/bin` (Debian/Ubuntu), else `initdb` on PATH.
Nothing here skips: a cluster that cannot start raises `PostgresUnavailable` with the reason and the server log.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 30
DB_USER = "dagster"  # the role initdb creates (the production instance's username, deploy/dagster.yaml)


class PostgresUnavailable(RuntimeError):
    """The cluster could not be created or started (the message says why)."""


@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int
    user: str
    password: str
    root: Path

    def dsn(self, dbname: str) -> dict[str, object]:
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password, "dbname": dbname}

    def create_database(self, name: str) -> None:
        import psycopg2

        con = psycopg2.connect(**self.dsn("postgres"))
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()


def server_bin_dir() -> Path:
    """Where initdb/pg_ctl live (see the module docstring)."""
    if os.environ.get("SOPHIA_PG_BIN"):
        return Path(os.environ["SOPHIA_PG_BIN"])

    def version(path: Path) -> int:
        match = re.fullmatch(r"\d+", path.parent.name)
        return int(match.group()) if match else -1

    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: version(p.parent))
    if debian:
        return debian[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries: install the `postgresql` package (.ci/run does) or set SOPHIA_PG_BIN"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started cluster with password auth over TCP on 127.0.0.1; stopped and deleted afterwards."""
    bin_dir = server_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="sophia-pg-"))
    user = os.environ.get("SOPHIA_PG_USER", "nobody") if os.geteuid() == 0 else None
    run_as: dict[str, object] = {}
    if user is not None:
        try:
            entry = pwd.getpwnam(user)
        except KeyError as exc:
            raise PostgresUnavailable(
                f"running as root needs an unprivileged user for initdb; {user!r} does not exist"
            ) from exc
        os.chown(root, entry.pw_uid, entry.pw_gid)
        run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    password = secrets.token_urlsafe(18)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if user is not None:
        os.chown(pwfile, run_as["user"], run_as["group"])  # type: ignore[arg-type]
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=START_TIMEOUT_S, cwd=root, check=False, **run_as
        )

    started = False
    try:
        init = run(
            str(bin_dir / "initdb"),
            "-D", str(data),
            "-U", DB_USER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        if init.returncode:
            raise PostgresUnavailable(
                f"initdb failed ({init.returncode}): {init.stderr.strip() or init.stdout.strip()}"
            )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        start = run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "25", "start")
        started = start.returncode == 0
        if not started:
            server_log = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed ({start.returncode}): {start.stderr.strip()}\n{server_log}")
        yield PostgresCluster("127.0.0.1", port, DB_USER, password, root)
    finally:
        if started:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
