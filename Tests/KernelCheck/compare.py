#!/usr/bin/env python3
"""Compares two kernel_check outputs: same checks in the same order, integers equal, floats within
a relative tolerance (levels differ by rounding: FMA or not, vector width in reductions).

Usage: compare.py REFERENCE CANDIDATE [TOLERANCE]
"""
import math
import sys


def main():
    reference, candidate = (open(path).read().split("\n") for path in sys.argv[1:3])
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 2e-5
    failures, checks, values = 0, 0, 0
    for line_number, (r, c) in enumerate(zip(reference, candidate), 1):
        if not r and not c:
            continue
        rf, cf = r.split(), c.split()
        if rf[:2] != cf[:2]:
            print(f"line {line_number}: check {rf[:2]} vs {cf[:2]}")
            failures += 1
            continue
        checks += 1
        # Each check's values, scaled by the largest magnitude in it (a GEMM's sums cancel).
        scale = max([abs(float(x)) for x in rf[2:] if x not in ("nan", "-nan", "inf", "-inf")] or [1.0])
        for index, (x, y) in enumerate(zip(rf[2:], cf[2:])):
            values += 1
            if x == y:
                continue
            try:
                a, b = float(x), float(y)
            except ValueError:
                a, b = math.nan, math.inf
            if math.isnan(a) and math.isnan(b):
                continue
            if abs(a - b) <= tolerance * max(abs(a), scale * 1e-2, 1e-30):
                continue
            if failures < 20:
                print(f"{rf[0]}[{index}]: reference {x}, candidate {y}")
            failures += 1
    if len(reference) != len(candidate):
        print(f"line counts differ: {len(reference)} vs {len(candidate)}")
        failures += 1
    print(f"compare: {checks} checks, {values} values, {failures} outside tolerance {tolerance}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
