"""Throwaway PostgreSQL and Redis servers for the e2e tests, started from the
binaries `make servers` installs, on free loopback ports, with their files in
a temporary directory; stopped when the session ends."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args):
    """PostgreSQL refuses to run as root: run its tools as its own user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class Postgres:
    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not bins:
            pytest.fail("PostgreSQL is not installed: run `make servers`")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="llmvoy-e2e-pg-")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        subprocess.run(_as_postgres([f"{self.bin}/initdb", "-D", self.data, "-U", "llmvoy", "--auth=trust", "-E", "UTF8"]),
                       check=True, capture_output=True)
        subprocess.run(_as_postgres([f"{self.bin}/pg_ctl", "-D", self.data, "-w", "-l", os.path.join(self.dir, "log"), "-o",
                                     f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]),
                       check=True, capture_output=True)

    def url(self, db="postgres"):
        return f"postgres://llmvoy@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def create_database(self):
        name = "t_" + uuid.uuid4().hex[:12]
        subprocess.run([f"{self.bin}/psql", self.url(), "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return self.url(name)

    def stop(self):
        subprocess.run(_as_postgres([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self):
        self.bin = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(self.bin):
            pytest.fail("redis-server is not installed: run `make servers`")
        self.dir = tempfile.mkdtemp(prefix="llmvoy-e2e-redis-")
        self.port = _free_port()
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.bin, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                import socket
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def command(self, *args):
        """One Redis command (RESP); returns the integer, bytes or None of a
        simple reply."""
        import socket
        req = f"*{len(args)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(req.encode())
            f = s.makefile("rb")
            line = f.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b":":
                return int(rest)
            if kind == b"+":
                return rest
            if kind == b"$":
                return None if int(rest) < 0 else f.read(int(rest) + 2)[:-2]
            raise RuntimeError(f"redis: {line!r}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    pg = Postgres()
    yield pg
    pg.stop()


@pytest.fixture
def postgres_database(postgres_server):
    """The URL of a fresh, empty database for one test."""
    return postgres_server.create_database()


@pytest.fixture
def redis_server():
    r = Redis()
    yield r
    r.close()
