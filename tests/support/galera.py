"""A real three-node MariaDB Galera cluster on loopback, for tests/galera.

Each node is a `mariadbd` of its own (Debian's mariadb-server with galera-4)
on free ports, in a temporary directory: the first bootstraps the cluster,
the other two join it by state transfer (rsync). The settings are those
deploy/galera/ recommends (ROW binlog, InnoDB, autoinc lock mode 2, reads
that wait for the writes the cluster has committed), with durability
relaxed for speed (a test cluster keeps nothing).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from support.server import free_port

PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
START_TIMEOUT = 120.0  # a joiner's state transfer on a busy 2-core machine
USER = "sync"  # created on the first node, replicated to the others


def missing() -> str | None:
    """Why a cluster cannot run here, or None."""
    for program in ("mariadbd", "mariadb-install-db", "mariadb", "rsync"):
        if shutil.which(program) is None:
            return f"need {program} (Debian: apt-get install mariadb-server galera-4 rsync)"
    if not PROVIDER.exists():
        return f"need {PROVIDER} (Debian: apt-get install galera-4)"
    return None


class Node:
    def __init__(self, directory: Path, index: int, ports: dict[str, int]) -> None:
        self.directory = directory
        self.index = index
        self.port = ports["sql"]
        self.ports = ports
        self.process: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.directory / "mysqld.sock"

    def url(self, database: str) -> str:
        return f"mysql://{USER}:{USER}@127.0.0.1:{self.port}/{database}"

    def config(self, peers: str) -> str:
        d = self.directory
        return f"""[mysqld]
datadir={d}/data
socket={self.socket}
pid-file={d}/mysqld.pid
log-error={d}/error.log
port={self.port}
bind-address=127.0.0.1
user=root
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=2
innodb_buffer_pool_size=64M
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_cluster_name=syncstorage_test
wsrep_cluster_address=gcomm://{peers}
wsrep_node_name=node{self.index}
wsrep_node_address=127.0.0.1:{self.ports['group']}
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:{self.ports['group']};ist.recv_addr=127.0.0.1:{self.ports['ist']};gcache.size=32M"
wsrep_sst_receive_address=127.0.0.1:{self.ports['sst']}
wsrep_sst_method=rsync
wsrep_sync_wait=1
"""

    def start(self, *args: str) -> None:
        self.process = subprocess.Popen(
            ["mariadbd", f"--defaults-file={self.directory}/my.cnf", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def sql(self, statement: str) -> str:
        done = subprocess.run(
            ["mariadb", f"--socket={self.socket}", "-uroot", "-N", "-e", statement],
            capture_output=True, text=True, timeout=30,
        )
        return done.stdout.strip()

    def wait_synced(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            if self.sql("SHOW STATUS LIKE 'wsrep_local_state_comment'").endswith("Synced"):
                return
            time.sleep(0.3)
        log = (self.directory / "error.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"Galera node{self.index} did not reach Synced in {timeout} s:\n{log}")

    def kill(self) -> None:
        """SIGKILL: the node dies as in a power cut."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def restart_after_kill(self) -> None:
        """Rejoin as a crashed node does under systemd: recover the last
        committed position from InnoDB, then start from it, so the cluster
        sends only what it missed (IST) instead of a whole copy."""
        recover_log = self.directory / "recover.log"
        subprocess.run(
            ["mariadbd", f"--defaults-file={self.directory}/my.cnf", "--wsrep-recover", f"--log-error={recover_log}"],
            capture_output=True, timeout=120,
        )
        found = re.search(r"WSREP: Recovered position: (\S+)", recover_log.read_text(errors="replace"))
        self.start(*([f"--wsrep-start-position={found.group(1)}"] if found else []))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    def __init__(self, directory: Path, size: int = 3) -> None:
        self.nodes = []
        for i in range(size):
            ports = {name: free_port() for name in ("sql", "group", "ist", "sst")}
            self.nodes.append(Node(directory / f"node{i}", i, ports))
        peers = ",".join(f"127.0.0.1:{n.ports['group']}" for n in self.nodes)
        for node in self.nodes:
            (node.directory / "data").mkdir(parents=True)
            # a joiner's rsync daemon writes the state transfer as nobody
            os.chmod(node.directory / "data", 0o777)
            (node.directory / "my.cnf").write_text(node.config("" if node.index == 0 else peers))
            # the first node's settings with the peers, for when it rejoins
            (node.directory / "rejoin.cnf").write_text(node.config(peers))

    def start(self) -> None:
        first, *others = self.nodes
        subprocess.run(
            ["mariadb-install-db", f"--defaults-file={first.directory}/my.cnf",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, timeout=120,
        )
        first.start("--wsrep-new-cluster")
        first.wait_synced()
        first.sql(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{USER}'; GRANT ALL ON *.* TO '{USER}'@'%'")
        # the first node rejoins (after a kill) as an ordinary member
        (first.directory / "my.cnf").write_text((first.directory / "rejoin.cnf").read_text())
        for node in others:
            node.start()
        for node in others:
            node.wait_synced()

    def size(self, node: Node) -> int:
        return int(node.sql("SHOW STATUS LIKE 'wsrep_cluster_size'").split()[-1])

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
