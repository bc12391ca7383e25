"""Rebuild the example data sets in this folder: `python specs/data/make_data.py`.

Both files are made up (see README.md) and drawn from fixed seeds, so running this
script again writes the same files. It needs only NumPy.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# German university grades: 1.0 is the best, 4.0 the lowest pass.
GRADES = np.array([1.0, 1.3, 1.7, 2.0, 2.3, 2.7, 3.0, 3.3, 3.7, 4.0])


def income_table(rows: int = 200, seed: int = 2024) -> str:
    """The lecture's "student → future net income" story, as CSV text.

    participation: share of lectures and exercises attended, in %, mostly high;
    grade: final grade, better (smaller) with more participation, plus chance;
    age: at graduation, 20 to 34;
    income: net income five years later in k€ per year: 28 k€, plus 7 k€ per grade
    step better than 4.0, plus 0.9 k€ per year of age over 20, plus 0.08 k€ per
    percentage point of participation, plus Gaussian noise with σ = 4 k€.
    """
    rng = np.random.default_rng(seed)
    participation = np.round(100 * rng.beta(4, 2, rows))
    # A grade step from participation (0 … 9, 0 being 1.0) plus a random step of ±2.
    step = np.round((100 - participation) / 100 * 9 + rng.normal(0, 1.5, rows))
    grade = GRADES[np.clip(step, 0, len(GRADES) - 1).astype(int)]
    age = rng.integers(20, 35, rows)
    income = 28 + 7 * (4.0 - grade) + 0.9 * (age - 20) + 0.08 * participation + rng.normal(0, 4, rows)
    lines = ["grade,age,participation,income"]
    lines += [f"{g:.1f},{a},{p:.0f},{i:.1f}" for g, a, p, i in zip(grade, age, participation, income, strict=True)]
    return "\n".join(lines) + "\n"


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, written with tanh so that steep steps do not overflow exp."""
    return 0.5 * (1 + np.tanh(z / 2))


def staircase(x: np.ndarray) -> np.ndarray:
    """The lecture's staircase: differences of steep sigmoids make steps on [-2, 4]."""
    s = [sigmoid(100 * x + shift) for shift in (200, 100, 0, -100, -200, -300, -400)]
    heights = [0.25, 0.5, 1.0, 1.2, 0.8, 1.6]
    return sum(h * (s[k] - s[k + 1]) for k, h in enumerate(heights))


def staircase_table(rows: int = 400, seed: int = 7, noise: float = 0.05) -> str:
    """x uniform in [-3, 5] (4 decimals, sorted), y the staircase at x plus Gaussian
    measurement noise with σ = `noise` (6 decimals), as CSV text. The noise leaves the
    output layer something to fit, so training the staircase spec is not a no-op."""
    rng = np.random.default_rng(seed)
    x = np.sort(np.round(rng.uniform(-3, 5, rows), 4))
    y = staircase(x) + rng.normal(0, noise, rows)
    lines = ["x,y"] + [f"{a:.4f},{b:.6f}" for a, b in zip(x, y, strict=True)]
    return "\n".join(lines) + "\n"


def main() -> None:
    for name, text in (("income.csv", income_table()), ("staircase.csv", staircase_table())):
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name} ({text.count(chr(10)) - 1} rows)")


if __name__ == "__main__":
    main()
