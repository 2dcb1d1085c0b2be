"""The lab's network: hosts in network namespaces on one private switch, and nothing else.

Layout for ``n`` hosts (every name carries the test process's pid, so the
leftovers of a run that was killed can be recognised and swept)::

    cllab<pid>x<k>-br   the switch: bridge br0 (no address), ports p1..pn, lo
    cllab<pid>x<k>-h1   eth0 = 10.213.47.11/24, route 224.0.0.0/4 dev eth0, lo
    ...                 (eth0 is the other end of p1)

Every veth pair is created directly between the switch's namespace and a
host's namespace: no interface, bridge, address or route is ever added to the
root namespace, and the switch has no address at all. A host knows only the
lab's /24 and the multicast route zeroconf needs, so anything it sends
elsewhere fails with "network unreachable"; nothing outside can reach it.
IPv6 is switched off in every lab namespace to keep captures to what Cercle
sends.

Faults, all applied inside the switch's namespace:

- ``partition(groups)`` moves the ports of each extra group to a bridge of
  its own (the wifi splits silently: no reset, no error, frames just vanish);
  ``heal()`` puts them back.
- ``impair(loss, delay, jitter)`` replaces the bridge with the userspace
  switch of ``tests.lab.impair`` (this kernel has no ``sch_netem``).
- ``block_mdns()`` drops UDP port 5353 in the bridge's forward path with
  nftables (bridge family).

``close()`` undoes everything, whatever state the lab is in.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SUBNET = "10.213.47"  # a /24 used only inside the lab's namespaces
PREFIX = "cllab"
BRIDGE = "br0"
ROOT = Path(__file__).resolve().parents[2]
_NAME = re.compile(rf"^{PREFIX}(\d+)x\d+-")
_counter = 0


class LabError(RuntimeError):
    """A lab command failed; the message holds the command and its error output."""


def _run(argv: Sequence[str], check: bool = True, timeout: float = 30.0,
         input: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          input=input)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done


_reason: str | None = None
_checked = False


def unavailable() -> str | None:
    """Why the lab cannot run here (None when it can): root, iproute2, namespaces, veth."""
    global _reason, _checked
    if _checked:
        return _reason
    _checked = True
    if not sys.platform.startswith("linux"):
        _reason = "network namespaces exist only on Linux"
    elif os.geteuid() != 0:
        _reason = "needs root (ip netns, veth, bridge)"
    elif shutil.which("ip") is None:
        _reason = "needs the ip command (Debian package iproute2)"
    else:
        probe = f"{PREFIX}{os.getpid()}x0-probe"
        try:
            _run(["ip", "netns", "add", probe])
            _run(["ip", "-n", probe, "link", "add", "name", "probe0", "type", "veth", "peer",
                  "name", "probe1"])
        except (LabError, OSError, subprocess.TimeoutExpired) as exc:
            _reason = f"cannot create a network namespace with a veth pair: {exc}"
        finally:
            _run(["ip", "netns", "del", probe], check=False)
    return _reason


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def namespaces() -> list[str]:
    out = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _kill_namespace(ns: str) -> None:
    """Kill every process left in ``ns`` (all of them are the lab's), then delete it."""
    for _ in range(3):
        pids = [int(p) for p in _run(["ip", "netns", "pids", ns], check=False).stdout.split()
                if p.isdigit()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    _run(["ip", "netns", "del", ns], check=False)


def sweep_stale() -> list[str]:
    """Delete the namespaces of lab runs whose process is gone (a killed pytest)."""
    swept = []
    for ns in namespaces():
        match = _NAME.match(ns)
        if match and not _alive(int(match.group(1))):
            _kill_namespace(ns)
            swept.append(ns)
    return swept


@dataclass(frozen=True)
class Host:
    """One simulated laptop."""

    index: int
    ns: str
    address: str
    port: str  # its port on the switch, in the switch's namespace

    @property
    def name(self) -> str:
        return f"h{self.index}"

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


class Network:
    """Namespaces, veth pairs and the switch of one lab; ``close()`` removes all of it."""

    def __init__(self, hosts: int) -> None:
        global _counter
        _counter += 1
        self.prefix = f"{PREFIX}{os.getpid()}x{_counter}"
        self.switch = f"{self.prefix}-br"
        self.hosts: list[Host] = []
        self._size = hosts
        self._bridges = [BRIDGE]
        self._procs: list[subprocess.Popen[bytes]] = []
        self._mounts: list[Path] = []
        self._impairment: subprocess.Popen[str] | None = None
        self._nft = False

    # -- building ---------------------------------------------------------------------
    def start(self) -> Network:
        try:
            _run(["ip", "netns", "add", self.switch])
            self._quiet_ipv6(self.switch)
            self._ip(self.switch, "link", "set", "lo", "up")
            self._add_bridge(BRIDGE)
            for _ in range(self._size):
                self.add_host()
        except BaseException:
            self.close()
            raise
        return self

    def _ip(self, ns: str, *args: str) -> None:
        _run(["ip", "-n", ns, *args])

    def _quiet_ipv6(self, ns: str) -> None:
        # Best effort: without sysctl the captures just hold some IPv6 neighbour chatter.
        _run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
              "net.ipv6.conf.default.disable_ipv6=1"], check=False)

    def _add_bridge(self, name: str) -> None:
        # No STP and no snooping: every port forwards at once and multicast floods, like
        # the wifi of a meeting room.
        self._ip(self.switch, "link", "add", name, "type", "bridge", "forward_delay", "0",
                 "stp_state", "0", "mcast_snooping", "0")
        self._ip(self.switch, "link", "set", name, "up")

    def add_host(self) -> Host:
        """One more namespace on the switch (the next address of the lab's /24)."""
        index = len(self.hosts) + 1
        host = Host(index, f"{self.prefix}-h{index}", f"{SUBNET}.{10 + index}", f"p{index}")
        _run(["ip", "netns", "add", host.ns])
        self.hosts.append(host)
        self._quiet_ipv6(host.ns)
        self._ip(self.switch, "link", "add", "name", host.port, "type", "veth", "peer", "name",
                 "eth0", "netns", host.ns)
        self._ip(self.switch, "link", "set", host.port, "master", BRIDGE, "up")
        self._ip(host.ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        self._ip(host.ns, "link", "set", "eth0", "up")
        self._ip(host.ns, "link", "set", "lo", "up")
        self._ip(host.ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        return host

    # -- running programs -------------------------------------------------------------------
    def argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def popen(self, ns: str, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside namespace ``ns``; the lab kills it on close if still alive."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
            self.argv(ns, argv), cwd=ROOT, **kwargs)
        self._procs.append(proc)
        return proc

    def run(self, ns: str, argv: Sequence[str], check: bool = True,
            timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return _run(self.argv(ns, argv), check=check, timeout=timeout)

    # -- faults -----------------------------------------------------------------------------
    def partition(self, groups: Sequence[Sequence[Host]]) -> None:
        """Split the switch: the first group stays on br0, each other group gets a bridge."""
        for number, group in enumerate(groups[1:], start=1):
            bridge = f"br{number}"
            if bridge not in self._bridges:
                self._add_bridge(bridge)
                self._bridges.append(bridge)
            for host in group:
                self._ip(self.switch, "link", "set", host.port, "master", bridge)

    def heal(self) -> None:
        """Every port back on br0."""
        for host in self.hosts:
            self._ip(self.switch, "link", "set", host.port, "master", BRIDGE)

    def impair(self, loss: float, delay_ms: float, jitter_ms: float,
               seed: int | None = None) -> None:
        """Replace the bridge by a switch that loses ``loss`` % and delays every frame."""
        if self._impairment is not None:
            raise LabError("the network is already impaired")
        for host in self.hosts:
            self._ip(self.switch, "link", "set", host.port, "nomaster")
            # One segment per frame, so the loss applies per segment as on a real link.
            self._ip(host.ns, "link", "set", "eth0", "gso_max_segs", "1")
        argv = [sys.executable, "-m", "tests.lab.impair", "--loss", str(loss), "--delay",
                str(delay_ms), "--jitter", str(jitter_ms)]
        if seed is not None:
            argv += ["--seed", str(seed)]
        proc: subprocess.Popen[str] = subprocess.Popen(
            self.argv(self.switch, [*argv, *(h.port for h in self.hosts)]), cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._impairment = proc
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith('{"event": "ready"'):
            raise LabError(f"the impairing switch did not start: {line} "
                           f"{proc.stderr.read() if proc.stderr else ''}")

    def restore(self) -> dict[str, int]:
        """Stop the impairing switch (returns its counters) and put the bridge back."""
        proc, self._impairment = self._impairment, None
        counters: dict[str, int] = {}
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            for line in out.splitlines():
                with contextlib.suppress(ValueError):
                    data = json.loads(line)
                    if data.get("event") == "stopped":
                        counters = {k: v for k, v in data.items() if k != "event"}
        for host in self.hosts:
            self._ip(host.ns, "link", "set", "eth0", "gso_max_segs", "65535")
            self._ip(self.switch, "link", "set", host.port, "master", BRIDGE)
        return counters

    def block_mdns(self) -> None:
        """Drop mDNS (UDP 5353, either way) in the bridge's forward path."""
        if shutil.which("nft") is None:
            raise LabError("needs the nft command (Debian package nftables)")
        ruleset = (
            "table bridge cercle_lab {\n"
            "  chain forward {\n"
            "    type filter hook forward priority 0; policy accept;\n"
            "    udp dport 5353 counter drop\n"
            "    udp sport 5353 counter drop\n"
            "  }\n"
            "}\n")
        _run(self.argv(self.switch, ["nft", "-f", "-"]), input=ruleset)
        self._nft = True

    def mdns_dropped(self) -> int:
        """Packets the mDNS filter has dropped so far."""
        out = self.run(self.switch, ["nft", "-j", "list", "table", "bridge", "cercle_lab"]).stdout
        total = 0
        for entry in json.loads(out).get("nftables", []):
            for expr in entry.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    total += int(expr["counter"]["packets"])
        return total

    def unblock_mdns(self) -> None:
        if self._nft:
            self.run(self.switch, ["nft", "delete", "table", "bridge", "cercle_lab"], check=False)
            self._nft = False

    # -- disks ------------------------------------------------------------------------------
    def mount_tmpfs(self, path: Path, size: str) -> None:
        """A tiny filesystem at ``path`` (unmounted on close)."""
        path.mkdir(parents=True, exist_ok=True)
        _run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "cllab", str(path)])
        self._mounts.append(path)

    # -- teardown ---------------------------------------------------------------------------
    def close(self) -> None:
        """Kill the lab's processes, delete its namespaces, unmount its disks. Idempotent."""
        if self._impairment is not None:
            with contextlib.suppress(Exception):
                self._impairment.kill()
                self._impairment.communicate(timeout=5)
            self._impairment = None
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)  # a frozen process cannot die otherwise
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        self._procs.clear()
        for ns in [h.ns for h in self.hosts] + [self.switch]:
            _kill_namespace(ns)
        self.hosts.clear()
        for path in reversed(self._mounts):
            if _run(["umount", str(path)], check=False).returncode != 0:
                _run(["umount", "-l", str(path)], check=False)
        self._mounts.clear()

    def leftovers(self) -> list[str]:
        """Namespaces of this lab still present (empty after close)."""
        return [ns for ns in namespaces() if ns.startswith(self.prefix + "-")]

    def __enter__(self) -> Network:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def network(hosts: int) -> Iterator[Network]:
    net = Network(hosts)
    with net:
        yield net
