"""generateName: `<prefix><5 random chars>` as kube-apiserver makes names for controller-created objects."""

from __future__ import annotations

import random

# Kubernetes' alphabet for generated names and hashes: no vowels (no accidental words), no 0/1/3.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_NAME = 63
_RANDOM_LENGTH = 5


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: map each character into SAFE_ALPHABET."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def generate_name(prefix: str, taken: set[str], rand: random.Random) -> str:
    """A name `prefix` + 5 chars from the vowel-free alphabet, not in `taken` (prefix cut to fit 63)."""
    prefix = prefix[: _MAX_NAME - _RANDOM_LENGTH]
    while True:
        name = prefix + "".join(rand.choice(SAFE_ALPHABET) for _ in range(_RANDOM_LENGTH))
        if name not in taken:
            return name
