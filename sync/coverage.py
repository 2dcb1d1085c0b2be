"""Which changes a set of signed heads proves: the authorship check, shared by the side that
sends changes and the side that receives them.

An author signs the hash of a change of theirs (a ``SignedHead``). A change's hash covers
the hashes of the changes it depends on, and each of an author's changes depends, directly
or through others' changes, on the author's previous one. So a signed head proves the
change it names and every earlier change of the same author reachable from it by
following dependencies. A receiver follows them through the changes it is receiving (and
those waiting for their dependencies), stopping at what it already holds: whatever it
holds is proven already, and so is everything before it.

A change is proven only by a head of *its own* author: a participant who signs a change of
theirs that depends on a forged change of someone else proves nothing about the forgery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

__all__ = ["Node", "covered"]


class Node(NamedTuple):
    """A change in the graph: its hash, author, and the hashes it depends on."""

    hash: bytes
    author: bytes
    deps: tuple[bytes, ...]


def covered(nodes: Iterable[Node], heads: Mapping[bytes, Iterable[bytes]],
            held: Callable[[bytes], bool]) -> set[bytes]:
    """The hashes among ``nodes`` proven by ``heads`` (author -> hashes it signed),
    following dependencies through ``nodes`` and stopping at what is ``held``."""
    graph = {node.hash: node for node in nodes}
    proven: set[bytes] = set()
    for author, signed in heads.items():
        seen: set[bytes] = set()
        stack = [h for h in signed if h in graph]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            node = graph[current]
            if node.author == author:
                proven.add(current)
            stack.extend(dep for dep in node.deps
                         if dep in graph and dep not in seen and not held(dep))
    return proven
