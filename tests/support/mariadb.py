"""A real MariaDB server for the MySQL tests: a private data directory, 127.0.0.1 only,
a database and a user with a password; started and stopped by the tests themselves."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pymysql

from poolscope.postgres import free_port

DATABASE = "poolscope"
USER = "poolscope"
# With characters a URL must quote: the tests prove the password is never shown.
PASSWORD = "mysql-s3cret/pw"
READY_TIMEOUT_SECONDS = 30


def _program(*names: str) -> str:
    for name in names:
        # Debian puts the server in /usr/sbin, which a non-root PATH may lack.
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    raise RuntimeError(
        f"none of {', '.join(names)} is installed: apt-get install mariadb-server (.ci/run does)"
    )


class MariaDB:
    """One ``mariadbd`` on a free port of 127.0.0.1; ``start()`` again after ``stop()``
    keeps its port and data."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.socket = root / "mysqld.sock"
        # A temporary directory of its own: servers bootstrapping side by side in /tmp
        # (one per pytest-xdist worker) drop each other's temporary tables.
        self.tmp = root / "tmp"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "mariadbd.log"

    @property
    def url(self) -> str:
        return f"mysql://{USER}:mysql-s3cret%2Fpw@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> str:
        """Start the server (initialised and provisioned on the first start); its URL."""
        first = not self.data.exists()
        if first:
            self._install()
        self.port = free_port(self.port)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    _program("mariadbd", "mysqld"),
                    "--no-defaults",
                    f"--datadir={self.data}",
                    f"--tmpdir={self.tmp}",
                    f"--socket={self.socket}",
                    "--bind-address=127.0.0.1",
                    f"--port={self.port}",
                    f"--pid-file={self.root / 'mariadbd.pid'}",
                    # A root test run: the server runs as root too, in its private directory.
                    *(["--user=root"] if os.geteuid() == 0 else []),
                    "--skip-name-resolve",
                    "--max-connections=300",
                    "--innodb-buffer-pool-size=32M",
                    "--innodb-log-file-size=8M",
                    "--skip-log-bin",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_ready()
        if first:
            self._provision()
        return self.url

    def stop(self) -> bool:
        """Stop the server; whether it was running."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return False
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return True

    def _install(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        command = [
            _program("mariadb-install-db", "mysql_install_db"),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--tmpdir={self.tmp}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        subprocess.run(command, check=True, capture_output=True)

    def _root_connection(self) -> pymysql.Connection[pymysql.cursors.Cursor]:
        return pymysql.connect(unix_socket=str(self.socket), user="root", password="")

    def _wait_until_ready(self) -> None:
        # The server creates its socket once it accepts connections (a failed pymysql
        # connect would leave a socket unclosed behind it).
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self.socket.exists():
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"mariadbd not ready: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self._root_connection().close()

    def _provision(self) -> None:
        connection = self._root_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {DATABASE}")
                cursor.execute(f"CREATE USER '{USER}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
                # The service's own connections are this user's: it may KILL them without
                # more privileges, as the tests do.
                cursor.execute(f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'%'")
        finally:
            connection.close()
