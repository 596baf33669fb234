"""Wording helpers for messages people read."""


def a(word: str) -> str:
    """`a park`, `an enterprise`."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word
