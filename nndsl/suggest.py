"""Did-you-mean suggestions for unknown names."""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like `word`, if one is close enough to be a likely typo."""
    if len(word) > 64:
        return None
    best, best_distance = None, None
    choices = list(choices)
    for choice in choices:
        if choice.lower() == word.lower():
            return choice
        distance = edit_distance(word.lower(), choice.lower())
        limit = 1 if len(choice) <= 4 else 2 if len(choice) <= 8 else 3
        if distance <= limit and (best_distance is None or distance < best_distance):
            best, best_distance = choice, distance
    if best is None and len(word) >= 3:
        # A prefix is a likely shorthand: 'glorot' for 'glorot_normal'.
        best = next((c for c in choices if c.lower().startswith(word.lower())), None)
    return best


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or ''."""
    match = closest(word, choices)
    return f" (did you mean '{match}'?)" if match else ""
