"""Kill rate per module of the last ``mutmut run`` and its surviving mutants (``make mutation``).

Run from the repository root after ``mutmut run``; exits 1 when a module
stays under :data:`TARGET` percent of its mutants killed.

Example:
    $ python tests/mutation_report.py
"""

import subprocess
import sys
from collections import Counter, defaultdict

TARGET = 85.0


def main() -> int:
    listing = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                             capture_output=True, text=True, check=True).stdout
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for line in listing.splitlines():
        if ":" not in line:
            continue
        name, status = (part.strip() for part in line.rsplit(":", 1))
        module = name.split(".")[1]
        counts[module][status] += 1
        if status != "killed":
            survivors.append(f"{name}: {status}")
    print(f"{'module':10} {'killed':>7} {'survived':>9} {'no tests':>9} {'total':>6} {'killed %':>9}")
    failed = False
    for module, count in sorted(counts.items()):
        total = sum(count.values())
        rate = 100 * count["killed"] / total
        failed |= rate < TARGET
        print(f"{module:10} {count['killed']:7} {count['survived']:9} {count['no tests']:9} {total:6} {rate:8.1f}%")
    print("\nNot killed (docs/testing.md, Mutation testing: which are equivalent):")
    print("\n".join(survivors))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
