"""Model benchmark: a 3,000-item session, 30 participants, every phase.

Prints a table of file size, save time, open-to-snapshot time, the cost of one
remote change with its snapshot refresh, and peak memory, each beside the
target and a baseline measured in the same run (a full re-read of the
document with ``automerge.core.extract`` / a fresh snapshot build).

    uv run python benchmarks/model_bench.py [--items 3000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from automerge.core import Document, SyncState, extract

from model.protocols import builtin_protocols
from model.session import Session
from model.snapshot import SnapshotBuilder

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


def sentence(rng: random.Random, kind: str) -> str:
    return rng.choice(TEXTS[kind])


def build(n_items: int, seed: int = 7) -> tuple[Session, list[Session]]:
    rng = random.Random(seed)
    host = Session.create(title="Banc d'essai", protocol=builtin_protocols()["codev"],
                          name="Animatrice")
    people = []
    for i in range(29):
        p = Session(host.doc.fork())
        p.join(f"Participant {i + 1}")
        host.merge(p.doc)
        people.append(p)
    phases = len(host.snapshot.phases)
    per_phase = max(1, n_items // phases)
    host.start()
    for index in range(n_items):
        if index and index % per_phase == 0 and host.snapshot.control.phase.index < phases - 1:
            host.advance()
        phase = host.snapshot.current_phase
        allowed = phase.kinds if phase is not None else ()
        # The kinds this phase takes (model.rules), in the proportions of a session.
        kind = rng.choice([k for k in KINDS if k in allowed] or list(allowed))
        text = sentence(rng, kind if kind in TEXTS else "note")
        extra = {"owner": rng.choice(people).me, "due": "2026-12-15"} if kind == "action" else {}
        host.add_item(kind, text, **extra)
    return host, people


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / (1024 if sys.platform == "darwin" else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    args = parser.parse_args()

    print(f"building a session of {args.items} items, 30 participants…", file=sys.stderr)
    host, _people = build(args.items)
    data = host.save()
    save_ms = timed(host.save)
    open_ms = timed(lambda: Session(Document.load(data)), repeat=3)
    extract_ms = timed(lambda: extract(Document.load(data)), repeat=3)

    # One remote change: a peer adds an item, the host receives it and refreshes.
    peer = Session(Document.load(data))
    state_host, state_peer = SyncState(), SyncState()
    # Bring the sync states up to date first (as a live connection would be).
    for _ in range(6):
        for a, sa, b, sb in ((host, state_host, peer, state_peer),
                             (peer, state_peer, host, state_host)):
            msg = a.generate_sync_message(sa)
            if msg is not None:
                b.receive_sync_message(sb, msg)
    samples, full = [], []
    for i in range(30):
        peer.add_item("learning", f"Leçon distante {i}")  # the last phase takes learnings
        msgs = []
        while (msg := peer.generate_sync_message(state_peer)) is not None:
            msgs.append(msg)
            reply = host.doc.generate_sync_message(state_host)
            start = time.perf_counter()
            host.receive_sync_message(state_host, msg)
            host.refresh()  # the snapshot is read in lazily: count it here
            samples.append((time.perf_counter() - start) * 1000)
            if reply is not None:
                peer.doc.receive_sync_message(state_peer, reply)
        start = time.perf_counter()
        SnapshotBuilder(host.doc)
        full.append((time.perf_counter() - start) * 1000)
    change_ms = statistics.median(samples)
    rebuild_ms = statistics.median(full)
    assert len(host.snapshot.items) == args.items + 30

    rows = [
        ("file size", f"{len(data) / 1000:.0f} KB", "≤ 150 KB", "", len(data) <= 150_000),
        ("save", f"{save_ms:.1f} ms", "", "", True),
        ("open to snapshot", f"{open_ms:.0f} ms", "≤ 300 ms",
         f"extract(): {extract_ms:.0f} ms", open_ms <= 300),
        ("remote change + refresh", f"{change_ms:.2f} ms", "≤ 5 ms",
         f"full re-read: {rebuild_ms:.0f} ms (×{rebuild_ms / change_ms:.0f})", change_ms <= 5),
        ("peak memory (RSS)", f"{peak_rss_mb():.0f} MB", "", "", True),
    ]
    chars = sum(len(item.text) for item in host.snapshot.items) / len(host.snapshot.items)
    print(f"\nmodel benchmark — {args.items} items (texts of {chars:.0f} characters on "
          f"average), 30 participants, {len(host.snapshot.phases)} phases\n")
    print(f"{'measure':<26}{'value':>12}  {'target':<10}{'baseline (same run)':<40}ok")
    print("-" * 92)
    for name, value, target, baseline, ok in rows:
        print(f"{name:<26}{value:>12}  {target:<10}{baseline:<40}{'yes' if ok else 'NO'}")
    if not all(r[4] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
