"""A session's fingerprint: a few words people compare between two screens.

The lobby shows them under the join code and the join screen beside each session found;
a participant who sees other words is about to type the code into another laptop. The
words are derived from the session's tag, which commits to the creator's key (an impostor
cannot announce a session whose words match without that key), and come from the BIP-39
English list (``mnemonic``): short, common, and unlike each other. They are the same
whatever the language of each laptop, so two people can read them to each other.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Final

from mnemonic import Mnemonic

__all__ = ["WORDS", "fingerprint"]

WORDS: Final = 3  # 33 bits: ample to tell sessions in one building apart
_BITS: Final = 11  # BIP-39 has 2,048 words


@cache
def _wordlist() -> tuple[str, ...]:
    return tuple(Mnemonic("english").wordlist)


def fingerprint(tag: str) -> str:
    """Three words for the session announced with ``tag`` ("word word word")."""
    digest = int.from_bytes(hashlib.sha256(b"cercle/fingerprint/1\x00" + tag.encode()).digest())
    words = _wordlist()
    return " ".join(words[(digest >> (256 - _BITS * (i + 1))) & (2**_BITS - 1)]
                    for i in range(WORDS))
