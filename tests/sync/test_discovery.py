"""Advertising and browsing sessions with real zeroconf, bound to the loopback interface only.

Every zeroconf instance here is bound to ``interfaces=["127.0.0.1"]`` and advertises
127.0.0.1; a guard refuses (and fails the test on) any datagram that would leave
through another interface. Zeroconf's RFC 6762 pacing is shortened the way its own
test suite does it (``quick_timing`` in python-zeroconf's ``tests/conftest.py``).
Other test runs may share the loopback multicast group, so tests look sessions up
by their own random tags and never count everything in view.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from zeroconf import IPVersion, ServiceInfo
from zeroconf import _core as zc_core
from zeroconf._services import browser as zc_browser
from zeroconf._services import info as zc_info
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from sync import discovery
from sync.discovery import (
    DISCOVERY_VERSION,
    SERVICE_TYPE,
    Advertiser,
    Browser,
    DiscoveryClosed,
    FoundSession,
    local_ipv4_addresses,
    local_networks,
    new_tag,
    order_for,
    session_from_info,
)

LO = "127.0.0.1"
LOOPBACK = [LO]
MDNS_GROUP = "224.0.0.251"
WAIT = 2.0  # seconds; a bound on waits that take milliseconds on loopback

Sessions = dict[str, FoundSession]


class Datagrams:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.refused: list[tuple[Any, str]] = []


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Datagrams]:
    """Refuse any datagram not addressed to loopback or multicast out of the loopback interface."""
    datagrams = Datagrams()
    real_sendto = socket.socket.sendto
    loopback_if = socket.inet_aton(LO)

    def guarded_sendto(sock: socket.socket, data: bytes, *args: Any) -> int:
        address = args[-1]
        host = address[0]
        if ipaddress.ip_address(host).is_loopback or (
            host == MDNS_GROUP
            and sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4) == loopback_if
        ):
            datagrams.sent.append(address)
            return real_sendto(sock, data, *args)
        datagrams.refused.append((address, repr(sock)))
        return len(data)

    monkeypatch.setattr(socket.socket, "sendto", guarded_sendto)
    yield datagrams
    assert not datagrams.refused, f"datagrams that would have left loopback: {datagrams.refused}"


@pytest.fixture(autouse=True)
def quick_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorten zeroconf's pacing of real networks: probes, announcements, goodbyes, first
    queries, answer aggregation and the one-second protection between multicasts of a record.
    Applied before any AsyncZeroconf is built (its outgoing queues read them at creation)."""
    monkeypatch.setattr(zc_core, "_CHECK_TIME", 10)
    monkeypatch.setattr(zc_core, "_REGISTER_TIME", 10)
    monkeypatch.setattr(zc_core, "_UNREGISTER_TIME", 10)
    # Not in zeroconf 0.148 (the version Intel Macs get): nothing to shorten there.
    monkeypatch.setattr(zc_core, "_PROBE_RANDOM_DELAY_INTERVAL", (1, 5), raising=False)
    monkeypatch.setattr(zc_browser, "_FIRST_QUERY_DELAY_RANDOM_INTERVAL", (1, 5))
    monkeypatch.setattr(zc_info, "_LISTENER_TIME", 10)
    monkeypatch.setattr(zc_info, "_AVOID_SYNC_DELAY_RANDOM_INTERVAL", (1, 5))
    monkeypatch.setattr(zc_core, "_AGGREGATION_DELAY", 50)
    monkeypatch.setattr(zc_core, "_PROTECTED_AGGREGATION_DELAY", 20)
    monkeypatch.setattr(zc_core, "_ONE_SECOND", 100)


@pytest.fixture
async def aiozc() -> AsyncIterator[AsyncZeroconf]:
    """A loopback AsyncZeroconf of the test's own, for raw registrations and look-ups."""
    zc = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    try:
        yield zc
    finally:
        await zc.async_close()


def advertiser(tag: str, port: int = 40001, **kwargs: Any) -> Advertiser:
    return Advertiser(tag=tag, port=port, addresses=LOOPBACK, interfaces=LOOPBACK, **kwargs)


def browser(**kwargs: Any) -> Browser:
    return Browser(interfaces=LOOPBACK, **kwargs)


async def seen(b: Browser, predicate: Callable[[Sessions], bool]) -> Sessions:
    async with asyncio.timeout(WAIT):
        return await b.wait_for(predicate)


def has_tag(tag: str, people: int | None = None) -> Callable[[Sessions], bool]:
    def holds(sessions: Sessions) -> bool:
        return any(s.tag == tag and people in (None, s.people) for s in sessions.values())

    return holds


def lacks_tag(tag: str) -> Callable[[Sessions], bool]:
    return lambda sessions: all(s.tag != tag for s in sessions.values())


def raw_info(
    name: str, properties: bytes | dict[bytes, bytes | None], port: int = 40009
) -> AsyncServiceInfo:
    return AsyncServiceInfo(
        SERVICE_TYPE,
        f"{name}.{SERVICE_TYPE}",
        port=port,
        properties=properties,
        server=f"{name.lower().replace(' ', '-')}.local.",
        parsed_addresses=LOOPBACK,
    )


async def register(zc: AsyncZeroconf, info: ServiceInfo) -> None:
    await (await zc.async_register_service(info))


class IgnoredServices(logging.Handler):
    """Collects the names of services the browser logs as ignored; lets a test await them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.names: set[str] = set()
        self._arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("ignoring") and isinstance(record.args, tuple):
            self.names.add(str(record.args[0]))
            arrived, self._arrived = self._arrived, asyncio.Event()
            arrived.set()

    async def wait_for(self, names: set[str]) -> None:
        async with asyncio.timeout(WAIT):
            while not names <= self.names:
                await self._arrived.wait()


@pytest.fixture
def ignored() -> Iterator[IgnoredServices]:
    logger = logging.getLogger("cercle.sync.discovery")
    handler = IgnoredServices()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


# --- what a user sees -------------------------------------------------------------------


async def test_advertised_session_appears_with_its_fields() -> None:
    tag = new_tag()
    views: list[Sessions] = []
    async with browser(on_change=views.append) as b, advertiser(tag, 40123, label="Groupe Lyon"):
        await seen(b, has_tag(tag))
        found = b.find_by_tag(tag)
        assert found == FoundSession(
            name=f"Cercle {tag}.{SERVICE_TYPE}",
            tag=tag,
            label="Groupe Lyon",
            host=LO,
            port=40123,
            people=0,
            version=DISCOVERY_VERSION,
            addresses=(LO,),
        )
        assert b.sessions[found.name] == found
        assert any(found in view.values() for view in views)


async def test_people_count_update_is_seen() -> None:
    tag = new_tag()
    async with browser() as b, advertiser(tag, people=1) as adv:
        await seen(b, has_tag(tag, people=1))
        await adv.update(4)
        await seen(b, has_tag(tag, people=4))
        await adv.update(3)
        await seen(b, has_tag(tag, people=3))
        assert adv.people == 3


async def test_second_session_shows_up_too() -> None:
    first, second = new_tag(), new_tag()
    async with browser() as b, advertiser(first, 40001, label="Un"):
        await seen(b, has_tag(first))
        async with advertiser(second, 40002, label="Deux"):
            await seen(b, has_tag(second))
            one, two = b.find_by_tag(first), b.find_by_tag(second)
            assert one is not None and two is not None
            assert (one.label, one.port) == ("Un", 40001)
            assert (two.label, two.port) == ("Deux", 40002)


async def test_session_disappears_when_its_advertiser_exits() -> None:
    staying, leaving = new_tag(), new_tag()
    async with browser() as b, advertiser(staying, 40001):
        async with advertiser(leaving, 40002):
            await seen(b, lambda s: has_tag(staying)(s) and has_tag(leaving)(s))
        # The goodbye (TTL 0) is processed on arrival; no cache expiry to wait for.
        await seen(b, lacks_tag(leaving))
        assert b.find_by_tag(leaving) is None
        assert b.find_by_tag(staying) is not None


async def test_a_browser_started_later_finds_a_running_session() -> None:
    tag = new_tag()
    async with advertiser(tag), browser() as b:
        await seen(b, has_tag(tag))


# --- what goes on the air -----------------------------------------------------------------


async def test_traffic_goes_through_the_loopback_guard(loopback_only: Datagrams) -> None:
    tag = new_tag()
    async with browser() as b, advertiser(tag):
        await seen(b, has_tag(tag))
    # The guard is not vacuous: zeroconf's packets went through it, multicast out of
    # loopback or unicast answers to a question asked from 127.0.0.1.
    hosts = {host for host, _port in loopback_only.sent}
    assert MDNS_GROUP in hosts
    assert hosts <= {MDNS_GROUP, LO}


async def test_txt_record_holds_only_public_keys(aiozc: AsyncZeroconf) -> None:
    tag = new_tag()
    # No addresses given: with interfaces, exactly the interfaces' addresses are advertised.
    adv = Advertiser(tag=tag, port=40001, label="Codev cadres", people=5, interfaces=LOOPBACK)
    async with adv:
        info = await aiozc.async_get_service_info(SERVICE_TYPE, f"Cercle {tag}.{SERVICE_TYPE}")
    assert info is not None
    assert info.properties == {
        b"v": str(DISCOVERY_VERSION).encode(),
        b"tag": tag.encode(),
        b"label": b"Codev cadres",
        b"n": b"5",
    }
    # The names carry the public tag and nothing else: no label, no host name.
    assert info.name == f"Cercle {tag}.{SERVICE_TYPE}"
    assert info.server == f"cercle-{tag}.local."
    assert info.parsed_addresses() == [LO]


def test_label_is_cleaned_and_cut_to_60_utf8_bytes() -> None:
    assert advertiser(new_tag(), label="é" * 100).label == "é" * 30
    assert advertiser(new_tag(), label="a" + "€" * 30).label == "a" + "€" * 19  # 1 + 57 bytes
    assert advertiser(new_tag(), label="Salle\x1b[31m\u202e B").label == "Salle[31m B"
    assert advertiser(new_tag(), label=" \n ").label == "Cercle"
    assert advertiser(new_tag()).label == "Cercle"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tag": "bad tag"},
        {"tag": ""},
        {"tag": "é"},
        {"tag": "a" * 33},
        {"port": 0},
        {"port": 70000},
        {"people": -1},
        {"addresses": ["not an address"]},
        {"addresses": ["::1"]},
    ],
)
def test_advertiser_refuses_bad_arguments(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"tag": "abcd1234", "port": 40001, **kwargs}
    with pytest.raises(ValueError):
        Advertiser(**arguments)


def test_local_ipv4_addresses_are_non_loopback_ipv4() -> None:
    addresses = [ipaddress.IPv4Address(a) for a in local_ipv4_addresses()]
    assert not any(a.is_loopback for a in addresses)
    assert len(set(addresses)) == len(addresses)


class _Adapter:
    def __init__(self, name: str, *ips: str) -> None:
        self.name = name
        self.nice_name = name
        self.ips = [_Ip(ip) for ip in ips]


class _Ip:
    def __init__(self, text: str) -> None:
        self.ip, _, prefix = text.partition("/")
        self.network_prefix = int(prefix)
        self.is_IPv4 = True


def test_the_address_people_in_the_room_reach_is_announced_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: every IPv4 address was announced (Hyper-V/WSL, VPN, 169.254), numerically
    sorted, and joiners kept the first."""
    adapters = [_Adapter("vEthernet (WSL)", "172.28.16.1/20"),
                _Adapter("Ethernet 2", "169.254.10.4/16"),
                _Adapter("utun3", "100.64.0.7/10"),
                _Adapter("Wi-Fi", "192.168.1.20/24"),
                _Adapter("lo", "127.0.0.1/8")]
    monkeypatch.setattr(discovery.ifaddr, "get_adapters", lambda: adapters)
    assert local_ipv4_addresses() == ["192.168.1.20", "172.28.16.1", "100.64.0.7",
                                      "169.254.10.4"]
    assert str(local_networks()[0]) == "172.28.16.0/20"


def test_a_joiner_tries_the_address_on_its_own_network_first() -> None:
    announced = ("192.168.1.20", "10.8.0.5", "169.254.10.4")
    mine = [ipaddress.IPv4Network("10.8.0.0/24")]
    assert order_for(announced, mine) == ["10.8.0.5", "192.168.1.20", "169.254.10.4"]
    assert order_for(announced, []) == list(announced)


# --- hostile or broken advertisements -----------------------------------------------------


def _info(
    properties: bytes | dict[bytes, bytes | None],
    *,
    port: int | None = 40001,
    addresses: list[str] | None = None,
) -> ServiceInfo:
    return ServiceInfo(
        SERVICE_TYPE,
        f"Cercle x.{SERVICE_TYPE}",
        port=port,
        properties=properties,
        server="x.local.",
        parsed_addresses=LOOPBACK if addresses is None else addresses,
    )


GOOD: dict[bytes, bytes | None] = {b"v": b"1", b"tag": b"abcd1234", b"label": b"Cercle", b"n": b"2"}


@pytest.mark.parametrize(
    "properties",
    [
        {},
        b"",
        b"\xff\x00garbage",
        {k: v for k, v in GOOD.items() if k != b"v"},
        {k: v for k, v in GOOD.items() if k != b"tag"},
        {k: v for k, v in GOOD.items() if k != b"label"},
        {k: v for k, v in GOOD.items() if k != b"n"},
        {**GOOD, b"v": None},
        {**GOOD, b"v": b"one"},
        {**GOOD, b"n": b"-1"},
        {**GOOD, b"n": b"2.5"},
        {**GOOD, b"n": b"9" * 50},
        {**GOOD, b"n": "٣".encode()},  # a digit, but not an ASCII one
        {**GOOD, b"tag": b"ab cd"},
        {**GOOD, b"tag": b"\xff\xfe"},
        {**GOOD, b"tag": b"a" * 33},
        {**GOOD, b"label": b"\xff\xfe\xfd"},
    ],
)
def test_session_from_info_rejects_bad_txt(properties: bytes | dict[bytes, bytes | None]) -> None:
    assert session_from_info(_info(properties)) is None


def test_session_from_info_rejects_missing_port_or_address() -> None:
    assert session_from_info(_info(GOOD, port=None)) is None
    assert session_from_info(_info(GOOD, addresses=[])) is None
    assert session_from_info(_info(GOOD, addresses=["224.0.0.1", "0.0.0.0"])) is None  # noqa: S104


def test_session_from_info_reads_a_good_record_and_cleans_the_label() -> None:
    found = session_from_info(_info({**GOOD, b"label": "Ω\x07".encode() * 40, b"extra": b"x"}))
    assert found == FoundSession(
        name=f"Cercle x.{SERVICE_TYPE}",
        tag="abcd1234",
        label="Ω" * 30,
        host=LO,
        port=40001,
        people=2,
        version=1,
        addresses=(LO,),
    )
    assert found is not None and len(found.fingerprint.split()) == 3


def test_every_usable_address_announced_is_kept_in_its_order() -> None:
    found = session_from_info(_info(GOOD, addresses=["10.0.0.9", "224.0.0.1", "192.168.1.5"]))
    assert found is not None
    assert found.addresses == ("10.0.0.9", "192.168.1.5") and found.host == "10.0.0.9"


async def test_malformed_advertisements_are_ignored(
    aiozc: AsyncZeroconf, ignored: IgnoredServices
) -> None:
    suffix = new_tag()
    garbage: dict[str, bytes | dict[bytes, bytes | None]] = {
        f"Cercle junk{suffix}": b"\x05\xff\xfe\x00=\x01\x7fabc",
        f"Cercle nov{suffix}": {b"tag": suffix.encode(), b"label": b"x", b"n": b"1"},
        f"Cercle badn{suffix}": {**GOOD, b"n": b"lots"},
        f"Cercle badlabel{suffix}": {**GOOD, b"label": b"\xc3\x28"},
    }
    tag = new_tag()
    changes: list[Sessions] = []
    async with browser(on_change=changes.append) as b:
        for name, properties in garbage.items():
            await register(aiozc, raw_info(name, properties))
        await ignored.wait_for({f"{name}.{SERVICE_TYPE}" for name in garbage})
        async with advertiser(tag):
            await seen(b, has_tag(tag))  # the browser still works
        assert not any(name.startswith(tuple(garbage)) for view in changes for name in view)
        assert not any(name.startswith(tuple(garbage)) for name in b.sessions)


async def test_a_session_whose_record_turns_bad_is_dropped(
    aiozc: AsyncZeroconf, ignored: IgnoredServices
) -> None:
    tag = new_tag()
    good = {**GOOD, b"tag": tag.encode()}
    async with browser() as b:
        await register(aiozc, raw_info(f"Cercle {tag}", good))
        await seen(b, has_tag(tag))
        await (await aiozc.async_update_service(raw_info(f"Cercle {tag}", {**good, b"n": b"?"})))
        await seen(b, lacks_tag(tag))
        assert f"Cercle {tag}.{SERVICE_TYPE}" in ignored.names


async def test_a_failing_on_change_callback_does_not_stop_the_browser() -> None:
    tag = new_tag()

    def explode(_: Sessions) -> None:
        raise RuntimeError("the owner's bug")

    async with browser(on_change=explode) as b, advertiser(tag) as adv:
        await seen(b, has_tag(tag))
        await adv.update(2)
        await seen(b, has_tag(tag, people=2))


# --- lifecycles ---------------------------------------------------------------------------


def _running_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if not task.done()}


async def test_leaving_the_context_managers_leaves_no_task_running() -> None:
    before = _running_tasks()
    tag = new_tag()
    async with browser() as b:
        async with advertiser(tag) as adv:
            await seen(b, has_tag(tag))
            await adv.update(7)  # leaves a rebroadcast in flight for __aexit__ to stop
        await seen(b, lacks_tag(tag))
    assert _running_tasks() - before == set()


async def test_shared_zeroconf_is_left_open(aiozc: AsyncZeroconf) -> None:
    tag = new_tag()
    async with Browser(zc=aiozc) as b:
        assert b.zeroconf is aiozc
        async with Advertiser(tag=tag, port=40001, addresses=LOOPBACK, zc=aiozc):
            await seen(b, has_tag(tag))
        await seen(b, lacks_tag(tag))
    assert not aiozc.zeroconf.done
    info = raw_info(f"Cercle {new_tag()}", GOOD)
    await register(aiozc, info)  # still usable
    await (await aiozc.async_unregister_service(info))


async def test_wait_for_raises_when_the_browser_closes() -> None:
    async with contextlib.AsyncExitStack() as stack:
        b = await stack.enter_async_context(browser())
        waiter = asyncio.create_task(b.wait_for(lambda _: False))
        await asyncio.sleep(0)  # let it start waiting
    with pytest.raises(DiscoveryClosed):
        async with asyncio.timeout(WAIT):
            await waiter


async def test_advertiser_exit_when_enter_never_happened_is_harmless() -> None:
    adv = advertiser(new_tag())
    await adv.__aexit__(None, None, None)
    with pytest.raises(RuntimeError):
        await adv.update(1)
