import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.ratelimit import FailureLimiter

ADDR = "192.168.1.20"
OTHER = "192.168.1.21"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> FailureLimiter:
    return FailureLimiter(clock)


def test_unknown_address_waits_nothing(limiter: FailureLimiter) -> None:
    assert limiter.delay_for(ADDR) == 0.0
    assert limiter.failures(ADDR) == 0


def test_free_attempts_then_exponential(limiter: FailureLimiter) -> None:
    delays = []
    for expected_count in range(1, 11):
        assert limiter.record_failure(ADDR) == expected_count
        delays.append(limiter.delay_for(ADDR))
    # After 1 and 2 failures the 2nd and 3rd attempts are free; the 4th waits 1 s, then doubling.
    assert delays == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_delay_runs_from_the_last_failure(limiter: FailureLimiter, clock: FakeClock) -> None:
    for _ in range(5):
        limiter.record_failure(ADDR)
    assert limiter.delay_for(ADDR) == 4.0
    clock.advance(1.5)
    assert limiter.delay_for(ADDR) == 2.5
    clock.advance(2.5)
    assert limiter.delay_for(ADDR) == 0.0
    clock.advance(100.0)
    assert limiter.delay_for(ADDR) == 0.0
    # Waiting does not reset the count: the next failure earns the next step.
    limiter.record_failure(ADDR)
    assert limiter.delay_for(ADDR) == 8.0


def test_addresses_are_independent(limiter: FailureLimiter) -> None:
    for _ in range(6):
        limiter.record_failure(ADDR)
    assert limiter.delay_for(ADDR) == 8.0
    assert limiter.delay_for(OTHER) == 0.0
    assert limiter.record_failure(OTHER) == 1


def test_success_forgets_the_address(limiter: FailureLimiter) -> None:
    for _ in range(5):
        limiter.record_failure(ADDR)
    limiter.record_success(ADDR)
    assert limiter.delay_for(ADDR) == 0.0
    assert limiter.record_failure(ADDR) == 1


def test_success_for_an_unknown_address_is_harmless(limiter: FailureLimiter) -> None:
    limiter.record_success(ADDR)
    assert len(limiter) == 0


def test_forgotten_after_quiet_period(limiter: FailureLimiter, clock: FakeClock) -> None:
    for _ in range(8):
        limiter.record_failure(ADDR)
    clock.advance(599.0)
    assert limiter.failures(ADDR) == 8
    clock.advance(1.0)
    assert limiter.failures(ADDR) == 0
    assert limiter.delay_for(ADDR) == 0.0
    assert limiter.record_failure(ADDR) == 1


def test_expired_addresses_are_pruned_on_failure(limiter: FailureLimiter, clock: FakeClock) -> None:
    for i in range(100):
        limiter.record_failure(f"10.0.0.{i}")
    assert len(limiter) == 100
    clock.advance(600.0)
    limiter.record_failure(ADDR)
    assert len(limiter) == 1


def test_custom_parameters(clock: FakeClock) -> None:
    limiter = FailureLimiter(
        clock, free_attempts=1, base_delay=0.5, max_delay=3.0, forget_after=10.0
    )
    assert limiter.delay_for(ADDR) == 0.0
    delays = []
    for _ in range(5):
        limiter.record_failure(ADDR)
        delays.append(limiter.delay_for(ADDR))
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    clock.advance(10.0)
    assert limiter.delay_for(ADDR) == 0.0


def test_persistent_guesser_does_not_overflow(clock: FakeClock) -> None:
    limiter = FailureLimiter(clock, forget_after=float("inf"))
    for _ in range(5000):
        limiter.record_failure(ADDR)
    assert limiter.delay_for(ADDR) == 60.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"free_attempts": 0}, "free_attempts must be >= 1"),
        ({"base_delay": -1.0}, "base_delay"),
        ({"base_delay": 5.0, "max_delay": 1.0}, "base_delay <= max_delay"),
        ({"forget_after": -1.0}, "forget_after"),
    ],
)
def test_bad_parameters(clock: FakeClock, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FailureLimiter(clock, **kwargs)  # type: ignore[arg-type]


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["fail", "success", "wait"]),
            st.floats(min_value=0.0, max_value=1000.0),
        ),
        max_size=60,
    )
)
def test_delay_is_always_within_bounds(steps: list[tuple[str, float]]) -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock)
    for action, seconds in steps:
        if action == "fail":
            limiter.record_failure(ADDR)
        elif action == "success":
            limiter.record_success(ADDR)
        else:
            clock.advance(seconds)
        delay = limiter.delay_for(ADDR)
        assert 0.0 <= delay <= 60.0
        if limiter.failures(ADDR) < 3:
            assert delay == 0.0
