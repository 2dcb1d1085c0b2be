"""The link handshake, sans-IO: members prove their keys, newcomers prove the code."""

from __future__ import annotations

import pytest

from model.keys import Identity, admission_message, new_nonce
from sync.handshake import (
    Anchor,
    Credentials,
    GuessRefused,
    HandshakeError,
    IncompatibleVersion,
    Initiator,
    NotAdmitting,
    NotAMember,
    PeerRejected,
    Responder,
    WrongCode,
    WrongSession,
)
from sync.wire import (
    PROTOCOL_VERSION,
    REJECT_NOT_ADMITTING,
    Confirm,
    KeyHello,
    Offer,
    Reject,
    Spake,
    decode_handshake,
    encode_handshake,
)

CODE = "4821-9130"


@pytest.fixture
def anne() -> Identity:
    return Identity.generate()


@pytest.fixture
def anchor(anne: Identity) -> Anchor:
    return Anchor.proven(anne.actor, new_nonce())


def admitted(anne: Identity, anchor: Anchor) -> Credentials:
    member = Identity.generate()
    return Credentials(member, anne.sign(admission_message(anchor.session_id, member.actor)))


def run(responder: Responder, initiator: Initiator) -> list[tuple[str, bytes]]:
    """Play both machines against each other; every frame sent, by whom."""
    initiator.start()
    sent = [("responder", responder.start())]
    frames = [sent[0]]
    while frames:
        replies = []
        for who, body in frames:
            machine = initiator if who == "responder" else responder
            answer = "initiator" if who == "responder" else "responder"
            replies += [(answer, reply) for reply in machine.receive(body)]
        sent += replies
        frames = replies
    return sent


def plain(body: bytes) -> object:
    return decode_handshake(body)


# -- members --------------------------------------------------------------------------------
def test_two_members_prove_their_keys_and_share_a_channel(anne: Identity,
                                                          anchor: Anchor) -> None:
    bob, carl = admitted(anne, anchor), admitted(anne, anchor)
    responder = Responder(anchor=anchor, credentials=bob)
    initiator = Initiator(anchor=anchor, credentials=carl)
    run(responder, initiator)
    assert responder.done and initiator.done
    assert responder.outcome.peer == carl.identity.actor
    assert initiator.outcome.peer == bob.identity.actor
    assert not responder.outcome.newcomer and not initiator.outcome.newcomer
    sealed = initiator.outcome.channel.seal(b"hello")
    assert responder.outcome.channel.open(sealed) == b"hello"
    assert initiator.outcome.channel.open(responder.outcome.channel.seal(b"back")) == b"back"


def test_the_creator_needs_no_admission(anne: Identity, anchor: Anchor) -> None:
    bob = admitted(anne, anchor)
    responder = Responder(anchor=anchor, credentials=bob)
    initiator = Initiator(anchor=anchor, credentials=Credentials(anne))
    run(responder, initiator)
    assert responder.outcome.peer == anne.actor


def test_a_member_link_never_involves_the_code(anne: Identity, anchor: Anchor) -> None:
    bob, carl = admitted(anne, anchor), admitted(anne, anchor)
    sent = run(Responder(anchor=anchor, credentials=bob, code=CODE),
               Initiator(anchor=anchor, credentials=carl))
    kinds = [type(plain(body)).__name__ for _, body in sent]
    assert kinds == ["Offer", "KeyHello", "KeyProof", "KeyProof"]


@pytest.mark.parametrize("side", ["initiator", "responder"])
def test_a_key_without_the_creators_admission_is_refused(anne: Identity, anchor: Anchor,
                                                         side: str) -> None:
    bob = admitted(anne, anchor)
    stranger = Credentials(Identity.generate(), bob.admission)  # someone else's admission
    responder = Responder(anchor=anchor, credentials=stranger if side == "responder" else bob)
    initiator = Initiator(anchor=anchor, credentials=bob if side == "responder" else stranger)
    with pytest.raises(NotAMember, match="not admitted"):
        run(responder, initiator)


def test_a_key_proof_from_another_handshake_does_not_verify(anne: Identity,
                                                            anchor: Anchor) -> None:
    bob, carl = admitted(anne, anchor), admitted(anne, anchor)
    first = Responder(anchor=anchor, credentials=bob)
    sent = run(first, Initiator(anchor=anchor, credentials=carl))
    carls_proof = next(body for who, body in sent if who == "initiator"
                       and type(plain(body)).__name__ == "KeyProof")
    again = Responder(anchor=anchor, credentials=bob)
    again.start()
    again.receive(encode_handshake(KeyHello(eph=bytes(range(1, 33)))))
    with pytest.raises(NotAMember, match="does not verify"):
        again.receive(carls_proof)  # replayed into a handshake with other ephemeral keys


def test_a_reflected_key_proof_does_not_verify(anne: Identity, anchor: Anchor) -> None:
    bob = admitted(anne, anchor)
    responder = Responder(anchor=anchor, credentials=bob)
    responder.start()
    [proof] = responder.receive(encode_handshake(KeyHello(eph=bytes(range(1, 33)))))
    with pytest.raises(NotAMember):
        responder.receive(proof)  # its own proof, signed as the responder


# -- newcomers ---------------------------------------------------------------------------
def test_a_newcomer_with_the_code_is_admitted_and_learns_the_session(anne: Identity,
                                                                    anchor: Anchor) -> None:
    newbie = Identity.generate()
    responder = Responder(anchor=anchor, credentials=Credentials(anne), code=CODE)
    initiator = Initiator(identity=newbie, code="4821 9130", tag=anchor.tag)
    run(responder, initiator)
    assert responder.outcome.newcomer and responder.outcome.peer == newbie.actor
    outcome = initiator.outcome
    assert outcome.newcomer and outcome.anchor == anchor and outcome.peer == anne.actor
    assert anchor.admits(newbie.actor, outcome.admission)
    assert responder.outcome.peer_admission == outcome.admission
    assert outcome.channel.open(responder.outcome.channel.seal(b"doc")) == b"doc"


def test_a_newcomer_who_only_knows_the_address_learns_the_tag(anne: Identity,
                                                              anchor: Anchor) -> None:
    initiator = Initiator(identity=Identity.generate(), code=CODE)
    run(Responder(anchor=anchor, credentials=Credentials(anne), code=CODE), initiator)
    assert initiator.tag == anchor.tag and initiator.outcome.anchor == anchor


def test_a_wrong_code_is_told_only_after_the_guess_is_on_the_table(anne: Identity,
                                                                    anchor: Anchor) -> None:
    """The cheating client of the trust issue hung up once the host's Confirm told it
    whether its guess was right, and was never counted. Now the newcomer confirms first:
    until then the host sends nothing keyed by the code, and the wrong confirmation is the
    counted failure."""
    responder = Responder(anchor=anchor, credentials=Credentials(anne), code=CODE)
    initiator = Initiator(identity=Identity.generate(), code="1111-2222", tag=anchor.tag)
    initiator.start()
    [spake] = initiator.receive(responder.start())
    [host_spake] = responder.receive(spake)
    assert isinstance(plain(host_spake), Spake)  # blinded by the code: tests no guess
    assert responder.guessing  # the attempt is counted from here on
    [confirm] = initiator.receive(host_spake)
    assert isinstance(plain(confirm), Confirm) and initiator.sent_confirm
    with pytest.raises(WrongCode):
        responder.receive(confirm)
    frame = responder.reject_frame(WrongCode("x"))
    assert frame is not None and plain(frame) == Reject(reason="wrong-code")
    with pytest.raises(PeerRejected) as info:
        initiator.receive(frame)
    assert info.value.reason == "wrong-code"


def test_the_gate_can_defer_a_code_attempt_before_any_work(anne: Identity,
                                                           anchor: Anchor) -> None:
    asked: list[bool] = []

    def gate() -> float:
        asked.append(True)
        return 12.0

    responder = Responder(anchor=anchor, credentials=Credentials(anne), code=CODE, guess=gate)
    initiator = Initiator(identity=Identity.generate(), code=CODE, tag=anchor.tag)
    initiator.start()
    [spake] = initiator.receive(responder.start())
    with pytest.raises(GuessRefused) as info:
        responder.receive(spake)
    assert info.value.retry_after == 12.0 and asked == [True]
    assert not responder.guessing  # nothing was counted: no guess was made


def test_only_the_creator_admits(anne: Identity, anchor: Anchor) -> None:
    bob = admitted(anne, anchor)
    responder = Responder(anchor=anchor, credentials=bob)  # no code: does not admit
    offer_frame = responder.start()
    offer = plain(offer_frame)
    assert isinstance(offer, Offer) and not offer.admits
    initiator = Initiator(identity=Identity.generate(), code=CODE, tag=anchor.tag)
    initiator.start()
    with pytest.raises(NotAdmitting, match="join through the host"):
        initiator.receive(offer_frame)
    assert not initiator.sent_confirm
    # A client that sends a Spake anyway gets a clear refusal, and no SPAKE2 work is done.
    responder = Responder(anchor=anchor, credentials=bob, code=CODE)
    responder.start()
    with pytest.raises(NotAdmitting) as info:
        responder.receive(encode_handshake(Spake(msg=b"S" + bytes(32))))
    assert info.value.reject_reason == REJECT_NOT_ADMITTING


def test_a_newcomer_refuses_another_sessions_offer_before_sending_anything(
        anne: Identity, anchor: Anchor) -> None:
    other = Anchor.proven(Identity.generate().actor, new_nonce())
    responder = Responder(anchor=other, credentials=Credentials(Identity.generate()), code=CODE)
    initiator = Initiator(identity=Identity.generate(), code=CODE, tag=anchor.tag)
    initiator.start()
    with pytest.raises(WrongSession):
        initiator.receive(responder.start())
    assert not initiator.sent_confirm


def test_an_impostor_announcing_the_tag_cannot_prove_the_key_behind_it(anne: Identity,
                                                                       anchor: Anchor) -> None:
    """Someone who knows the code sets up a laptop announcing the real session's tag: the
    newcomer's check of the welcome (the tag must commit to the key that signs it) fails."""
    mallory = Identity.generate()
    fake = Anchor(anchor.session_id, mallory.actor, anchor.nonce)  # the tag, not the key
    responder = Responder(anchor=fake, credentials=Credentials(mallory), code=CODE)
    initiator = Initiator(identity=Identity.generate(), code=CODE, tag=anchor.tag)
    with pytest.raises(WrongSession, match="does not match"):
        run(responder, initiator)


# -- failures ------------------------------------------------------------------------------
def test_a_reject_is_reported_with_its_retry_delay(anchor: Anchor) -> None:
    initiator = Initiator(identity=Identity.generate(), code=CODE, tag=anchor.tag)
    initiator.start()
    with pytest.raises(PeerRejected, match="busy") as info:
        initiator.receive(encode_handshake(Reject(reason="busy", retry_after=7.0)))
    assert info.value.retry_after == 7.0


def test_an_unknown_reject_reason_is_quoted_short(anchor: Anchor) -> None:
    initiator = Initiator(identity=Identity.generate(), code=CODE, tag=anchor.tag)
    initiator.start()
    with pytest.raises(PeerRejected, match=r"refused: 'x{80}'$"):
        initiator.receive(encode_handshake(Reject(reason="x" * 200)))


def test_another_version_is_incompatible(anchor: Anchor) -> None:
    initiator = Initiator(identity=Identity.generate(), code=CODE)
    initiator.start()
    offer = encode_handshake(Offer(version=PROTOCOL_VERSION + 1, tag="ab", eph=bytes(32)))
    with pytest.raises(IncompatibleVersion):
        initiator.receive(offer)


@pytest.mark.parametrize("body", [b"", b"\xc1", encode_handshake(Confirm(mac=bytes(32)))])
def test_garbage_or_out_of_turn_fails_the_machine_for_good(anne: Identity, anchor: Anchor,
                                                           body: bytes) -> None:
    responder = Responder(anchor=anchor, credentials=Credentials(anne), code=CODE)
    responder.start()
    with pytest.raises(HandshakeError):
        responder.receive(body)
    with pytest.raises(HandshakeError, match="failed"):
        responder.receive(encode_handshake(KeyHello(eph=bytes(32))))


def test_a_short_spake_message_is_refused(anne: Identity, anchor: Anchor) -> None:
    responder = Responder(anchor=anchor, credentials=Credentials(anne), code=CODE)
    responder.start()
    with pytest.raises(HandshakeError, match="wrong length"):
        responder.receive(encode_handshake(Spake(msg=b"S1")))


def test_an_initiator_gives_either_credentials_or_a_code(anchor: Anchor) -> None:
    with pytest.raises(ValueError, match="identity and the join code"):
        Initiator(identity=Identity.generate())
    with pytest.raises(ValueError, match="both"):
        Initiator(anchor=anchor)
