"""Model benchmark: a 3,000-item session, 30 participants, every phase.

Prints a table of file size, save time, open-to-snapshot time, the cost of one
remote change on its real path (its frame decoded, the change decoded, its
author's signature verified, the write rules and limits judged, applied, the
snapshot refreshed), what signatures cost (sign and verify per change, the bytes
a signature adds to a pushed change), what a host pays at start (the ``Ledger``
of every change held) and peak memory, each beside the target and a baseline
measured in the same run where there is one (a full re-read of the document
with ``automerge.core.extract`` / a fresh snapshot build).

    uv run python benchmarks/model_bench.py [--items 3000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from automerge.core import Document, extract

from model import rules
from model.changes import decode_change
from model.keys import Identity, change_message, verify
from model.protocols import builtin_protocols
from model.session import Session
from model.snapshot import SnapshotBuilder
from model.validation import MAX_CHANGE_BYTES, Ledger, WriteRules
from sync.core import Close, Emit, MeshCore
from sync.events import Misbehaviour
from sync.handshake import Anchor
from sync.wire import Changes, SignedHead, decode_envelope, encode_envelope

# Sentences of the length people type in a session (measured on sample minutes:
# questions ~45 characters, advice ~80, actions ~50, learnings ~70).
TEXTS = {
    "question": [
        "Depuis combien de temps es-tu dans ce poste ?",
        "Qui d'autre est au courant de la situation ?",
        "Qu'as-tu déjà essayé ?",
        "Comment ton manager voit-il les choses ?",
        "Que se passerait-il si tu ne faisais rien ?",
        "Quel est le calendrier du projet ?",
        "As-tu parlé directement avec elle ?",
        "Qu'est-ce qui te coûte le plus là-dedans ?",
    ],
    "advice": [
        "Tu pourrais proposer un point hebdomadaire court avec l'équipe.",
        "À ta place, je clarifierais d'abord le rôle de chacun par écrit.",
        "Et si tu demandais à ton N+1 de trancher sur les priorités ?",
        "Prends le temps d'écouter ses raisons avant de proposer une solution.",
        "Délègue la préparation du planning à quelqu'un de l'équipe.",
        "Un entretien individuel avec chaque personne pourrait débloquer la situation.",
    ],
    "action": [
        "Planifier un entretien avec Julie avant le 15",
        "Écrire la fiche de rôles et la partager",
        "Demander un arbitrage sur le budget",
        "Tester le point hebdo pendant un mois",
    ],
    "learning": [
        "Les questions ouvertes m'ont fait voir mon propre rôle autrement.",
        "Je retiens qu'on peut poser un cadre sans être autoritaire.",
        "Écouter sans proposer de solution tout de suite, c'est difficile.",
        "Le contrat clair au début a rendu les conseils plus utiles.",
    ],
    "note": [
        "Contexte : réorganisation en cours depuis mars.",
        "Équipe de 8 personnes, deux nouvelles arrivées.",
        "Tension entre les délais du client et la charge.",
    ],
}
KINDS = ["question"] * 4 + ["advice"] * 4 + ["action", "learning", "note"]


WRITERS = 10  # participants who write items (the others listen); the set-up grows with it
REMOTE_CHANGES = 30


def sentence(rng: random.Random, kind: str) -> str:
    return rng.choice(TEXTS[kind])


def build(n_items: int, seed: int = 7, writers: int = WRITERS) -> tuple[Session, list[Session]]:
    """A session as a meeting leaves it: the facilitator (its creator) and 29 participants
    she admitted; ``n_items`` items spread over every phase, each written by someone the
    protocol lets add it in that phase (``model.rules``): ``writers`` of the participants
    in turn, the facilitator where only the client may (no case is chosen here).

    Each participant is a replica of its own, with its own key: it takes the host's
    changes when it first writes in a phase, and the host takes the participants' at the
    end of the phase, in one batch (a live session does it in many small ones)."""
    rng = random.Random(seed)
    host = Session.create(title="Banc d'essai", protocol=builtin_protocols()["codev"],
                          name="Animatrice", identity=Identity.generate())
    people: list[Session] = []
    start = host.doc.get_heads()
    for i in range(29):
        person = Session(host.doc.fork(), identity=Identity.generate())
        person.join(f"Participant {i + 1}", host.admission_for(person.actor))
        people.append(person)
    host.apply_changes([c for p in people for c in p.changes_since(start, mine=True)])
    phases = len(host.snapshot.phases)
    per_phase = max(1, n_items // phases)
    host.start()
    index = 0
    for phase_index in range(phases):
        if phase_index:
            host.advance()
        snap = host.snapshot
        phase = snap.current_phase
        allowed = phase.kinds if phase is not None else ()
        caught_up: dict[int, list[bytes]] = {}  # writer -> its heads once it caught up
        for _ in range(per_phase if phase_index < phases - 1 else n_items - index):
            # The kinds this phase takes, in the proportions of a session.
            kind = rng.choice([k for k in KINDS if k in allowed] or list(allowed))
            text = sentence(rng, kind if kind in TEXTS else "note")
            extra = {"owner": rng.choice(people).me, "due": "2026-12-15"} \
                if kind == "action" else {}
            w = index % writers
            index += 1
            writer = people[w]
            if not rules.may_add(snap, writer.me, kind):
                host.add_item(kind, text, **extra)
                continue
            if w not in caught_up:
                writer.apply_changes(host.changes_since(writer.doc.get_heads()))
                caught_up[w] = writer.doc.get_heads()
            writer.add_item(kind, text, **extra)
        host.apply_changes([c for w, heads in caught_up.items()
                            for c in people[w].changes_since(heads, mine=True)])
    return host, people


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def per_call_us(fn: Callable[[], object], calls: int = 200, rounds: int = 5) -> float:
    """Microseconds per call of ``fn`` (the median round of ``calls`` calls)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples) * 1e6


OPEN_AND_HOLD = """
import pathlib, resource, sys
from automerge.core import Document
from model.session import Session
from model.validation import Ledger, WriteRules
session = Session(Document.load(open(sys.argv[1], "rb").read()))
creator = bytes.fromhex(session.snapshot.info.creator)
Ledger.of(session.doc, WriteRules.of(session.doc, creator))
# Linux keeps ru_maxrss across exec (the parent's peak): read this process's own.
status = pathlib.Path("/proc/self/status")
hwm = [line.split()[1] for line in status.read_text().splitlines()
       if line.startswith("VmHWM:")] if status.exists() else []
peak = int(hwm[0]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak * (1024 if hwm or sys.platform != "darwin" else 1))
"""


def peak_rss_mb(data: bytes) -> float:
    """Peak memory of a process that opens the session and holds its snapshot and ledger
    (what one laptop holds; this process holds the participants' replicas too)."""
    if sys.platform == "win32":
        return float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.cercle"
        path.write_bytes(data)
        out = subprocess.run([sys.executable, "-c", OPEN_AND_HOLD, str(path)], check=True,
                             capture_output=True, text=True, cwd=Path(__file__).parents[1])
    return int(out.stdout.split()[-1]) / 2**20


class RemotePeer:
    """A participant admitted to ``host``'s session, pushing its changes to the host's
    ``MeshCore`` (the network layer's own machine, without sockets) as its node does:
    each change in a ``Changes`` frame with its signed head."""

    LINK = 1

    def __init__(self, host: Session, core: MeshCore, data: bytes) -> None:
        self.host, self.core = host, core
        self.session = Session(Document.load(data), identity=Identity.generate())
        self.session_id = host.snapshot.info.id
        admission = host.admission_for(self.session.actor)
        self.check(core.link_up(self.LINK, self.session.actor, initiator=False,
                                remote="127.0.0.1", listen=None, admission=admission,
                                now=time.monotonic()))
        self.session.join("Pair distant", admission)
        self.check(core.receive(self.LINK, decode_envelope(self.push()[0]), time.monotonic()))

    def sign(self, change_hash: bytes) -> SignedHead:
        return SignedHead(self.session.actor, change_hash, self.session.identity.sign(
            change_message(self.session_id, change_hash)))

    def push(self) -> tuple[bytes, bytes]:
        """The frame body (plaintext) that pushes our last change, and the same without
        its signed head."""
        change = self.session.doc.get_last_local_change()
        assert change is not None
        signed = encode_envelope(Changes(changes=[change.bytes], heads=[self.sign(change.hash)]))
        return signed, encode_envelope(Changes(changes=[change.bytes]))

    @staticmethod
    def check(effects: list[object]) -> None:
        for effect in effects:
            if isinstance(effect, Close) or (isinstance(effect, Emit) and
                                             isinstance(effect.event, Misbehaviour)):
                raise RuntimeError(f"the host refused the remote change: {effect}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    args = parser.parse_args()

    print(f"building a session of {args.items} items, 30 participants…", file=sys.stderr)
    host, _people = build(args.items)
    data = host.save()
    save_ms = timed(host.save)
    open_ms = timed(lambda: Session(Document.load(data)).snapshot, repeat=3)  # read lazily
    extract_ms = timed(lambda: extract(Document.load(data)), repeat=3)
    info = host.snapshot.info
    assert info.verified and info.creator == host.me

    # What a host pays at start: the ledger of every change it holds (and the write rules).
    ledger_ms = timed(lambda: Ledger.of(host.doc, WriteRules.of(host.doc, host.actor)),
                      repeat=3)
    changes_held = len(host.doc.get_changes([]))

    # One remote change, on its real path: a participant adds an item and pushes it; the
    # host's MeshCore decodes the frame and the change, verifies the signature, judges
    # the write rules and the limits, applies it; then the snapshot is refreshed.
    core = MeshCore(identity=host.identity, anchor=Anchor.proven(info.creator_key, info.nonce),
                    session=host, make_session=lambda doc: Session(doc, identity=host.identity),
                    wall_clock=time.time)
    peer = RemotePeer(host, core, data)
    before = Ledger.of(host.doc, WriteRules.of(host.doc, host.actor))  # for judge, below
    samples, full, frames, bare, pushed = [], [], [], [], []
    for i in range(REMOTE_CHANGES):
        item_id = peer.session.add_item("learning", f"Leçon distante {i}")  # the last phase's
        frame, unsigned = peer.push()
        frames.append(len(frame))
        bare.append(len(unsigned))
        pushed.append(frame)
        start = time.perf_counter()
        effects = core.receive(peer.LINK, decode_envelope(frame), time.monotonic())
        host.refresh()  # the snapshot is read in lazily: count it here
        samples.append((time.perf_counter() - start) * 1000)
        peer.check(effects)
        assert host.snapshot.item(item_id) is not None
        start = time.perf_counter()
        _ = SnapshotBuilder(host.doc).snapshot  # read on first use
        full.append((time.perf_counter() - start) * 1000)
    change_ms = statistics.median(samples)
    rebuild_ms = statistics.median(full)
    assert len(host.snapshot.items) == args.items + REMOTE_CHANGES

    # The parts of that path, one at a time, on the changes just pushed.
    envelopes = [decode_envelope(f) for f in pushed]
    assert all(isinstance(e, Changes) for e in envelopes)
    heads = [e.heads[0] for e in envelopes if isinstance(e, Changes)]
    datas = [e.changes[0] for e in envelopes if isinstance(e, Changes)]
    messages = [change_message(info.id, h.hash) for h in heads]
    signer = peer.session.identity
    write_rules = WriteRules.of(host.doc, host.actor)
    first = decode_change(datas[0], max_size=MAX_CHANGE_BYTES)

    def cycle(values: list[bytes]) -> Callable[[], bytes]:
        at = [0]

        def next_value() -> bytes:
            at[0] = (at[0] + 1) % len(values)
            return values[at[0]]
        return next_value

    next_message, next_data = cycle(messages), cycle(datas)
    sign_us = per_call_us(lambda: signer.sign(next_message()))
    verify_us = per_call_us(lambda: verify(heads[0].actor, heads[0].sig, messages[0]))

    def decode_and_judge() -> None:
        change = decode_change(next_data(), max_size=MAX_CHANGE_BYTES)
        write_rules.check(change)

    rules_us = per_call_us(decode_and_judge)
    judge_us = per_call_us(lambda: before.judge([(first, 1)]))
    assert before.judge([(first, 1)])[0] == [first]
    sig_bytes = statistics.median(f - b for f, b in zip(frames, bare, strict=True))

    rows = [
        ("file size", f"{len(data) / 1000:.0f} KB", "≤ 150 KB", "", len(data) <= 150_000),
        ("save", f"{save_ms:.1f} ms", "", "", True),
        ("open to snapshot", f"{open_ms:.0f} ms", "≤ 300 ms",
         f"extract(): {extract_ms:.0f} ms", open_ms <= 300),
        ("remote change + refresh", f"{change_ms:.2f} ms", "≤ 5 ms",
         f"full re-read: {rebuild_ms:.0f} ms (×{rebuild_ms / change_ms:.0f})", change_ms <= 5),
        ("  sign, per change", f"{sign_us:.0f} µs", "", "Ed25519 (cryptography)", True),
        ("  verify, per change", f"{verify_us:.0f} µs", "", "the signature only", True),
        ("  decode + write rules", f"{rules_us:.0f} µs", "",
         f"decode_change, WriteRules.check; judge {judge_us:.0f} µs", True),
        ("  bytes a signature adds", f"{sig_bytes:.0f} B", "",
         f"pushed frame {statistics.median(bare):.0f} → {statistics.median(frames):.0f} B",
         True),
        ("ledger at start (Ledger.of)", f"{ledger_ms:.0f} ms", "",
         f"{changes_held} changes, {changes_held / ledger_ms:.0f} a ms", True),
        ("peak memory (RSS)", f"{peak_rss_mb(data):.0f} MB", "",
         "a process that opens it (snapshot, ledger)", True),
    ]
    chars = sum(len(item.text) for item in host.snapshot.items) / len(host.snapshot.items)
    print(f"\nmodel benchmark — {args.items} items (texts of {chars:.0f} characters on "
          f"average, written by {WRITERS} participants and the facilitator), 30 "
          f"participants, {len(host.snapshot.phases)} phases\n")
    print(f"{'measure':<30}{'value':>10}  {'target':<10}{'baseline (same run)':<44}ok")
    print("-" * 98)
    for name, value, target, baseline, ok in rows:
        print(f"{name:<30}{value:>10}  {target:<10}{baseline:<44}{'yes' if ok else 'NO'}")
    if not all(r[4] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
