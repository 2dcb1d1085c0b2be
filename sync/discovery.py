"""Finding sessions on the local network with zeroconf (mDNS / DNS-SD).

A facilitator's laptop advertises one ``_cercle._tcp.local.`` service per open
session; everyone else browses for that type and lists what they find.

What is advertised, and all that is:

- the instance name ``Cercle <tag>._cercle._tcp.local.`` and the host name
  ``cercle-<tag>.local.``, where the tag is a random public string
  (:func:`new_tag`, 8 hex characters) that only tells sessions apart;
- the IPv4 addresses and the TCP port where the session accepts links, the address of the
  laptop's main network first (not a virtual machine's, a VPN's or a self-assigned one);
- a TXT record with exactly four short keys: ``v`` (the discovery version),
  ``tag`` (the same tag), ``label`` (a public label the facilitator chooses,
  "Cercle" by default, at most 60 UTF-8 bytes) and ``n`` (how many people are
  connected, as decimal text).

What is deliberately not advertised: the session title, the protocol, any
participant's name, any content, the join code or anything derived from it
(not even a hash: a short code is brute-forced offline from its hash), and the
machine's own host name. Anyone on the network can read an advertisement, so
it carries nothing that is not meant for the whole room.

The browser reads advertisements as hostile input: a service whose TXT record
is missing a key or holds a value that does not parse is ignored, never raised
on. Discovery only says where to connect; the join-code handshake decides
whether the far end is the session it claims to be.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import ifaddr
from zeroconf import (
    DNSQuestionType,
    InterfaceChoice,
    IPVersion,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

__all__ = [
    "DEFAULT_LABEL",
    "DISCOVERY_VERSION",
    "MAX_LABEL_BYTES",
    "SERVICE_TYPE",
    "Advertiser",
    "Browser",
    "DiscoveryClosed",
    "FoundSession",
    "local_ipv4_addresses",
    "local_networks",
    "new_tag",
    "order_for",
    "session_from_info",
]

log = logging.getLogger("cercle.sync.discovery")

SERVICE_TYPE: Final = "_cercle._tcp.local."
DISCOVERY_VERSION: Final = 1
DEFAULT_LABEL: Final = "Cercle"
MAX_LABEL_BYTES: Final = 60
RESOLVE_TIMEOUT_MS: Final = 3000

_TAG = re.compile(r"[0-9A-Za-z]{1,32}")
# Counts and versions are short ASCII decimals; anything longer is garbage or hostile.
_MAX_DIGITS: Final = 6
# Ask for multicast answers (QM) from the first question on. A unicast answer to a QU
# question reaches only one of the sockets bound to port 5353 on the asking host
# (RFC 6762 section 15.1), and laptops often run several mDNS stacks (avahi, browsers,
# another Cercle): the answer would then be lost until the next query, a second later.
_QUESTION_TYPE: Final = DNSQuestionType.QM
_BROADCAST: Final = ipaddress.IPv4Address("255.255.255.255")


@dataclass(frozen=True)
class FoundSession:
    """One session seen on the network; ``name`` is the full service name, the key in
    ``Browser.sessions``. ``addresses`` are every usable address it announced, in its
    order of preference (``host`` is the first); a joiner tries them in ``order_for``."""

    name: str
    tag: str
    label: str
    host: str
    port: int
    people: int
    version: int
    addresses: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """The words the session's lobby shows (see ``sync.fingerprint``)."""
        from sync.fingerprint import fingerprint

        return fingerprint(self.tag)


class DiscoveryClosed(RuntimeError):
    """The browser was closed while someone was waiting on it."""


def new_tag() -> str:
    """A fresh random public session tag: 8 lowercase hex characters."""
    return secrets.token_hex(4)


# Adapters of virtual machines, containers and VPNs: their addresses are announced last
# (a joiner in the room cannot reach a laptop's WSL or Docker network).
_VIRTUAL = re.compile(r"docker|^br-|veth|virbr|vethernet|virtualbox|vmware|vmnet|hyper-v|wsl|"
                      r"utun|^tun|^tap|tailscale|zerotier|^zt|^wg|wireguard|vpn|npcap|loopback",
                      re.IGNORECASE)


def _interfaces() -> list[tuple[ipaddress.IPv4Interface, str]]:
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not ip.is_IPv4 or not isinstance(ip.ip, str):
                continue
            try:
                interface = ipaddress.IPv4Interface(f"{ip.ip}/{ip.network_prefix}")
            except ValueError:
                continue
            address = interface.ip
            if not (address.is_loopback or address.is_unspecified or address.is_multicast):
                found.append((interface, f"{adapter.name} {adapter.nice_name}"))
    return found


def _preference(address: ipaddress.IPv4Address, adapter: str) -> tuple[bool, bool, bool, int]:
    # Link-local stays, last: a room with a bare switch and no DHCP runs on 169.254/16.
    return (address.is_link_local, bool(_VIRTUAL.search(adapter)), not address.is_private,
            int(address))


def local_ipv4_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, the one people in the room most likely
    reach first: a private network's, then others, then virtual adapters' (VM, VPN,
    containers), then self-assigned (169.254) ones."""
    best: dict[ipaddress.IPv4Address, tuple[bool, bool, bool, int]] = {}
    for interface, adapter in _interfaces():
        rank = _preference(interface.ip, adapter)
        if interface.ip not in best or rank < best[interface.ip]:
            best[interface.ip] = rank
    return [str(address) for address in sorted(best, key=lambda a: best[a])]


def local_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks this machine is on (to tell which announced address it shares)."""
    return list(dict.fromkeys(interface.network for interface, _ in _interfaces()))


def order_for(addresses: tuple[str, ...] | list[str],
              networks: list[ipaddress.IPv4Network]) -> list[str]:
    """``addresses`` (as announced, preferred first) in the order a joiner should try them:
    those on a network it shares first, keeping the announced order otherwise."""
    def shared(text: str) -> bool:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            return False
        return any(address in network for network in networks)

    return sorted(addresses, key=lambda a: not shared(a))


def _clean_label(label: str) -> str:
    """Drop control and format characters, cut to MAX_LABEL_BYTES of UTF-8, never empty."""
    text = "".join(ch for ch in label if not unicodedata.category(ch).startswith("C"))
    # Cutting bytes may split a character; "ignore" drops the broken tail.
    text = text.encode("utf-8")[:MAX_LABEL_BYTES].decode("utf-8", "ignore").strip()
    return text or DEFAULT_LABEL


def _parse_count(raw: bytes | None) -> int | None:
    # bytes.isdigit() is ASCII-only, unlike str.isdigit(): no exotic digits get through.
    if raw is None or not raw.isdigit() or len(raw) > _MAX_DIGITS:
        return None
    return int(raw)


_MAX_ADDRESSES: Final = 16  # announced addresses kept per session


def _usable_ipv4(addresses: list[str]) -> list[str]:
    usable = []
    for text in addresses[:_MAX_ADDRESSES]:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            continue
        if not (address.is_unspecified or address.is_multicast or address == _BROADCAST):
            usable.append(text)
    return usable


def session_from_info(info: ServiceInfo) -> FoundSession | None:
    """Read a resolved service as a FoundSession, or None if any field is missing or bad."""
    properties = info.properties
    version = _parse_count(properties.get(b"v"))
    people = _parse_count(properties.get(b"n"))
    raw_tag = properties.get(b"tag")
    raw_label = properties.get(b"label")
    if version is None or people is None or raw_tag is None or raw_label is None:
        return None
    try:
        tag = raw_tag.decode("ascii")
        label = raw_label.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not _TAG.fullmatch(tag):
        return None
    port = info.port
    if port is None or not 0 < port < 65536:
        return None
    addresses = _usable_ipv4(info.parsed_addresses(IPVersion.V4Only))
    if not addresses:
        return None
    return FoundSession(
        name=info.name,
        tag=tag,
        label=_clean_label(label),
        host=addresses[0],
        port=port,
        people=people,
        version=version,
        addresses=tuple(addresses),
    )


async def _wait_until_started(aiozc: AsyncZeroconf) -> None:
    """Wait until zeroconf runs.

    Shielded: cancelling a task that awaits zeroconf's start-up cancels zeroconf's own
    start-up future, and the instance then never counts as started, for every user of a
    shared instance. While we wait, zeroconf's future holds the inner task.
    """
    zeroconf = aiozc.zeroconf
    if not zeroconf.started:
        await asyncio.shield(zeroconf.async_wait_for_start())


def _service_name(tag: str) -> str:
    return f"Cercle {tag}.{SERVICE_TYPE}"


def _validated_ipv4(addresses: list[str]) -> list[str]:
    for text in addresses:
        ipaddress.IPv4Address(text)  # raises ValueError on anything else
    return list(addresses)


class Advertiser:
    """Advertise one session on the local network while the ``async with`` lasts.

    Entering probes for the name, registers the service and waits until it has
    been announced; leaving sends the goodbyes. Raises ValueError on a bad tag,
    port or address, or when there is no non-loopback IPv4 address to advertise,
    and zeroconf's NonUniqueNameException if another responder holds the name.
    """

    def __init__(
        self,
        *,
        tag: str,
        port: int,
        label: str = DEFAULT_LABEL,
        people: int = 0,
        addresses: list[str] | None = None,
        interfaces: list[str] | None = None,
        zc: AsyncZeroconf | None = None,
    ) -> None:
        if not _TAG.fullmatch(tag):
            raise ValueError(f"a session tag is 1 to 32 ASCII letters or digits, not {tag!r}")
        if not 0 < port < 65536:
            raise ValueError(f"not a TCP port: {port}")
        if people < 0:
            raise ValueError(f"a number of people cannot be negative: {people}")
        self.tag = tag
        self.port = port
        self.label = _clean_label(label)
        self._people = people
        self._addresses = None if addresses is None else _validated_ipv4(addresses)
        self._interfaces = None if interfaces is None else list(interfaces)
        self._aiozc = zc
        self._owns_zc = zc is None
        self._info: AsyncServiceInfo | None = None
        self._broadcast: asyncio.Future[Any] | None = None

    @property
    def name(self) -> str:
        """The full service name this advertiser registers."""
        return _service_name(self.tag)

    @property
    def people(self) -> int:
        return self._people

    @property
    def zeroconf(self) -> AsyncZeroconf | None:
        """The AsyncZeroconf in use while advertising (shared or owned), else None."""
        return self._aiozc if self._info is not None else None

    def _addresses_to_advertise(self) -> list[str]:
        if self._addresses is not None:
            addresses = self._addresses
        elif self._interfaces is not None:
            addresses = _validated_ipv4(self._interfaces)
        else:
            addresses = local_ipv4_addresses()
        if not addresses:
            raise ValueError("no non-loopback IPv4 address to advertise the session on")
        return addresses

    def _build_info(self, addresses: list[str]) -> AsyncServiceInfo:
        properties: dict[bytes, bytes] = {
            b"v": str(DISCOVERY_VERSION).encode("ascii"),
            b"tag": self.tag.encode("ascii"),
            b"label": self.label.encode("utf-8"),
            b"n": str(self._people).encode("ascii"),
        }
        return AsyncServiceInfo(
            SERVICE_TYPE,
            self.name,
            port=self.port,
            properties=properties,
            # Without a server name zeroconf would reuse the instance name; the machine's
            # own host name would say whose laptop this is.
            server=f"cercle-{self.tag.lower()}.local.",
            parsed_addresses=addresses,
        )

    async def __aenter__(self) -> Self:
        if self._info is not None:
            raise RuntimeError("this Advertiser is already advertising")
        info = self._build_info(self._addresses_to_advertise())
        if self._aiozc is None:
            interfaces = self._interfaces or InterfaceChoice.All
            self._aiozc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        aiozc = self._aiozc
        try:
            await _wait_until_started(aiozc)
            announced = await aiozc.async_register_service(info)
            await announced
        except BaseException:
            if self._owns_zc:
                await aiozc.async_close()
                self._aiozc = None
            raise
        self._info = info
        log.debug("advertising %s on port %d", info.name, self.port)
        return self

    async def update(self, people: int) -> None:
        """Advertise a new number of connected people; the rebroadcast runs in the background."""
        if self._info is None or self._aiozc is None:
            raise RuntimeError("update() needs an Advertiser that is advertising")
        if people < 0:
            raise ValueError(f"a number of people cannot be negative: {people}")
        if people == self._people:
            return
        self._people = people
        info = self._build_info(self._info.parsed_addresses(IPVersion.V4Only))
        self._info = info
        await self._stop_broadcast()  # the new records supersede what it was still repeating
        self._broadcast = asyncio.ensure_future(await self._aiozc.async_update_service(info))

    async def _stop_broadcast(self) -> None:
        broadcast, self._broadcast = self._broadcast, None
        if broadcast is not None and not broadcast.done():
            broadcast.cancel()
            await asyncio.gather(broadcast, return_exceptions=True)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        info, self._info = self._info, None
        aiozc = self._aiozc
        if info is None or aiozc is None:
            return
        try:
            await self._stop_broadcast()
            goodbyes = await aiozc.async_unregister_service(info)
            await goodbyes
        finally:
            if self._owns_zc:
                self._aiozc = None
                await aiozc.async_close()
        log.debug("stopped advertising %s", info.name)


class Browser:
    """Keep ``sessions`` up to date with the Cercle sessions on the network.

    ``sessions`` maps the full service name to a FoundSession. After each change
    ``on_change`` gets a copy of it. Leaving ``async with`` stops the browser,
    cancels its pending look-ups and closes the zeroconf it created.
    """

    def __init__(
        self,
        *,
        on_change: Callable[[dict[str, FoundSession]], None] | None = None,
        interfaces: list[str] | None = None,
        zc: AsyncZeroconf | None = None,
    ) -> None:
        self.sessions: dict[str, FoundSession] = {}
        self._on_change = on_change
        self._interfaces = None if interfaces is None else list(interfaces)
        self._aiozc = zc
        self._owns_zc = zc is None
        self._browser: AsyncServiceBrowser | None = None
        # Look-ups in flight, by service name; the handler only schedules them.
        self._resolving: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._closed = False

    @property
    def zeroconf(self) -> AsyncZeroconf | None:
        """The AsyncZeroconf in use while browsing (shared or owned), else None."""
        return self._aiozc if self._browser is not None else None

    async def __aenter__(self) -> Self:
        if self._browser is not None or self._closed:
            raise RuntimeError("a Browser is entered once")
        if self._aiozc is None:
            interfaces = self._interfaces or InterfaceChoice.All
            self._aiozc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        aiozc = self._aiozc
        try:
            # Browse only once zeroconf runs: packets can arrive while it is still starting,
            # and a look-up scheduled then would wait on (and, cancelled, break) its start-up.
            await _wait_until_started(aiozc)
        except BaseException:
            if self._owns_zc:
                self._aiozc = None
                await aiozc.async_close()
            raise
        self._browser = AsyncServiceBrowser(
            aiozc.zeroconf,
            [SERVICE_TYPE],
            handlers=[self._on_service_state_change],
            question_type=_QUESTION_TYPE,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        self._changed.set()  # wakes wait_for() callers, who then raise DiscoveryClosed
        browser, self._browser = self._browser, None
        aiozc = self._aiozc
        try:
            if browser is not None:
                await browser.async_cancel()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self._owns_zc and aiozc is not None:
                self._aiozc = None
                await aiozc.async_close()

    def find_by_tag(self, tag: str) -> FoundSession | None:
        """The session advertising this tag, if one is in view."""
        for session in self.sessions.values():
            if session.tag == tag:
                return session
        return None

    async def wait_for(
        self, predicate: Callable[[dict[str, FoundSession]], bool]
    ) -> dict[str, FoundSession]:
        """Wait until predicate(sessions) holds and return that view of the sessions.

        Waits without limit: bound it with ``asyncio.timeout``. Raises DiscoveryClosed
        if the browser closes first.
        """
        while True:
            if self._closed:
                raise DiscoveryClosed("the browser was closed")
            changed = self._changed
            snapshot = dict(self.sessions)
            if predicate(snapshot):
                return snapshot
            await changed.wait()

    def _on_service_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        # Called by zeroconf inside the event loop: no awaiting here, only scheduling.
        if self._closed:
            return
        pending = self._resolving.pop(name, None)
        if pending is not None:
            pending.cancel()  # its answer would be older than this event
        if state_change is ServiceStateChange.Removed:
            self._forget(name)
            return
        task = asyncio.get_running_loop().create_task(
            self._resolve(zeroconf, service_type, name), name=f"cercle-discovery-resolve {name}"
        )
        self._resolving[name] = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._task_done, name))

    def _task_done(self, name: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._resolving.get(name) is task:
            del self._resolving[name]

    async def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        try:
            info = AsyncServiceInfo(service_type, name)
            resolved = await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS, _QUESTION_TYPE)
        except Exception as error:  # BadTypeInNameException, NotRunningException, ...
            log.debug("cannot look up %r: %r", name, error)
            return
        if not resolved:
            # No full answer in time: keep what we knew, the next event will retry.
            log.debug("no answer for %r within %d ms", name, RESOLVE_TIMEOUT_MS)
            return
        found = session_from_info(info)
        if found is None:
            log.debug("ignoring %r: its advertisement does not parse", name)
            self._forget(name)
            return
        if self.sessions.get(name) != found:
            self.sessions[name] = found
            self._announce()

    def _forget(self, name: str) -> None:
        if self.sessions.pop(name, None) is not None:
            self._announce()

    def _announce(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        if self._on_change is not None:
            try:
                self._on_change(dict(self.sessions))
            except Exception:
                # The callback is the owner's; its failure must not break zeroconf's dispatch.
                log.exception("on_change callback failed")
