"""A locked-down Kafka + Redis for the security tests: SASL_SSL/SCRAM-SHA-512 with ACLs, TLS Redis.

Real servers, as a deployment runs them: certificates made here with openssl (a CA and one
server certificate for localhost/127.0.0.1), SCRAM users written at format time
(``kafka.tools.StorageTool format --add-scram``), ``StandardAuthorizer`` with only the admin and
the controller as super users, and a redis-server with TLS only (no plaintext port) and an ACL
user. Jars come from the same pinned ``ops/kafka/pom.xml`` and Maven classpath cache as
``ops/stack.sh``. Every process started here is stopped by :meth:`SecureStack.stop`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from agents.demo.stack import free_port
from agents.settings import KafkaSettings

ROOT = Path(__file__).resolve().parent.parent
POM = ROOT / "ops" / "kafka" / "pom.xml"
STORE_PASSWORD = "store-secret"
ADMIN = ("admin", "admin-secret")
WORKER = ("cx-worker", "worker-secret")
LIMITED = ("cx-limited", "limited-secret")  # granted everything except READ on purchases
REDIS_USER = ("cx", "redis-secret")
REDIS_ADMIN = ("ops", "ops-secret")  # manages ACL users in the tests


def _run(args: list[str], cwd: Path, what: str, timeout: float = 120) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(args[:3])}...):\n{result.stderr[-2000:]}")
    return result.stdout


def make_certs(directory: Path) -> None:
    """ca.pem, server.pem/server.key (SAN localhost, 127.0.0.1), server.p12 and trust.p12."""
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    steps = (
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem"
        " -subj /CN=cx-ca",
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr"
        " -subj /CN=localhost",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -out server.pem -extfile san.ext",
        "openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name broker"
        f" -out server.p12 -passout pass:{STORE_PASSWORD}",
        "keytool -importcert -noprompt -alias ca -file ca.pem -keystore trust.p12"
        f" -storetype PKCS12 -storepass {STORE_PASSWORD}",
    )
    for step in steps:
        _run(step.split(), directory, step.split()[0])


def kafka_classpath() -> str:
    """The broker's classpath, resolved by Maven and cached like ``ops/stack.sh`` does."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = cache_home / "cxstream" / f"kafka-classpath-{digest}.txt"
    if cache.exists() and all(Path(j).exists() for j in cache.read_text().strip().split(":")):
        return cache.read_text().strip()
    if shutil.which("mvn") is None:
        raise RuntimeError("mvn not found: run ops/setup.sh (installs Maven and a JDK)")
    cache.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:build-classpath",
            f"-Dmdep.outputFile={cache}",
        ],
        ROOT,
        "Maven (resolving the Kafka jars)",
        timeout=600,
    )
    return cache.read_text().strip()


@dataclass
class SecureStack:
    directory: Path
    kafka_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    kafka: subprocess.Popen[bytes] | None = None
    redis: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def kafka_settings(self, user: tuple[str, str]) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=user[0],
            sasl_password=user[1],
            ssl_cafile=str(self.ca),
        )

    def kafka_env(self, user: tuple[str, str]) -> dict[str, str]:
        """Environment for a cxstream process connecting as ``user``."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user[0],
            "KAFKA_SASL_PASSWORD": user[1],
            "KAFKA_SSL_CAFILE": str(self.ca),
        }

    def redis_url(self, user: str = REDIS_USER[0], password: str = REDIS_USER[1]) -> str:
        return f"rediss://{user}:{password}@127.0.0.1:{self.redis_port}/0?ssl_ca_certs={self.ca}"

    def start(self) -> SecureStack:
        try:
            make_certs(self.directory)
            self._start_redis()
            self._start_kafka()
            self._wait_kafka_ready(90)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_redis(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server not found: run ops/setup.sh")
        d = self.directory
        conf = d / "redis.conf"
        conf.write_text(
            "bind 127.0.0.1\nport 0\n"
            f"tls-port {self.redis_port}\ntls-cert-file {d / 'server.pem'}\n"
            f"tls-key-file {d / 'server.key'}\ntls-ca-cert-file {d / 'ca.pem'}\n"
            'tls-auth-clients no\nsave ""\nappendonly no\n'
            f"dir {d}\nlogfile {d / 'redis.log'}\n"
            "user default off\n"
            f"user {REDIS_USER[0]} on >{REDIS_USER[1]} ~cx:* ~t* +@all -@dangerous\n"
            f"user {REDIS_ADMIN[0]} on >{REDIS_ADMIN[1]} ~* &* +@all\n"
        )
        self.redis = subprocess.Popen(["redis-server", str(conf)], start_new_session=True)
        deadline = time.monotonic() + 15
        while "Ready to accept connections" not in _read(d / "redis.log"):
            if self.redis.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server (TLS) did not start:\n{_read(d / 'redis.log')}")
            time.sleep(0.1)

    def _start_kafka(self) -> None:
        d = self.directory
        controller_port = free_port()
        values = {
            "KAFKA_PORT": str(self.kafka_port),
            "CONTROLLER_PORT": str(controller_port),
            "DATA_DIR": str(d / "kafka-data"),
            "KEYSTORE": str(d / "server.p12"),
            "TRUSTSTORE": str(d / "trust.p12"),
            "STORE_PASSWORD": STORE_PASSWORD,
            "ADMIN_USER": ADMIN[0],
            "ADMIN_PASSWORD": ADMIN[1],
            "CONTROLLER_PASSWORD": "controller-secret",
        }
        text = (ROOT / "ops" / "kafka" / "server-secure.properties.in").read_text()
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        (d / "server.properties").write_text(text)
        cp = kafka_classpath()
        scram = [
            arg
            for name, password in (ADMIN, WORKER, LIMITED)
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]
        cluster_id = _run(
            ["java", "-cp", cp, "kafka.tools.StorageTool", "random-uuid"], d, "kafka random-uuid"
        ).strip()
        _run(
            [
                "java",
                "-cp",
                cp,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(d / "server.properties"),
                *scram,
            ],
            d,
            "kafka storage format",
        )
        (d / "kafka-logs").mkdir(exist_ok=True)
        self._launch_kafka(cp)

    def _launch_kafka(self, cp: str) -> None:
        d = self.directory
        with open(d / "kafka.out", "ab") as out:
            self.kafka = subprocess.Popen(
                [
                    "java",
                    "-Xms128m",
                    "-Xmx512m",
                    "-XX:+UseG1GC",
                    "-Djava.awt.headless=true",
                    f"-Dkafka.logs.dir={d / 'kafka-logs'}",
                    f"-Dlog4j2.configurationFile={ROOT / 'ops' / 'kafka' / 'log4j2.properties'}",
                    "-cp",
                    cp,
                    "kafka.Kafka",
                    str(d / "server.properties"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _wait_kafka_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin = AdminClient(self.kafka_settings(ADMIN).confluent(logger=_quiet))
        while True:
            assert self.kafka is not None
            if self.kafka.poll() is not None:
                raise RuntimeError(f"secure kafka exited during start-up:\n{self.kafka_log()}")
            try:
                if admin.describe_cluster(request_timeout=3).result().nodes:
                    return
            except Exception:  # not up yet: retry until the deadline
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"secure kafka not ready after {timeout}s:\n{self.kafka_log()}")
            time.sleep(0.5)

    def kill_kafka(self) -> None:
        """An outage: SIGKILL the broker (its data stays for :meth:`restart_kafka`)."""
        if self.kafka is not None and self.kafka.poll() is None:
            self.kafka.kill()
            self.kafka.wait(30)

    def restart_kafka(self, timeout: float = 90) -> None:
        """Start the broker again on the same data and ports, and wait until it answers."""
        self._launch_kafka(kafka_classpath())
        self._wait_kafka_ready(timeout)

    def kafka_log(self, lines: int = 30) -> str:
        text = _read(self.directory / "kafka.out") + _read(
            self.directory / "kafka-logs" / "server.log"
        )
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, remove: bool = False) -> None:
        """Stop both servers; ``remove`` also deletes the directory (keys, data, logs)."""
        for proc in (self.kafka, self.redis):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)


_quiet = logging.getLogger("tests.secure_stack.librdkafka")
_quiet.propagate = False  # "connection refused" while the broker starts is expected


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def start_secure_stack() -> SecureStack:
    """Start both servers in a fresh temporary directory (failing with the servers' logs)."""
    return SecureStack(Path(tempfile.mkdtemp(prefix="cxstream-secure-"))).start()
