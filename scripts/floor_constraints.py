"""Print pip constraints that pin each dependency of pyproject.toml to its floor (``name==floor``).

    python3 scripts/floor_constraints.py [--extra NAME ...] > floor-constraints.txt
    pip install -e ".[dev,onnx]" -c floor-constraints.txt

Reads ``project.dependencies`` (and, with ``--extra``, those optional-dependency groups) and,
for every requirement with a ``>=`` bound, prints ``name==bound``. Requirements without a floor
and self-references (``rasd[...]``) are skipped. ``make test-floor`` runs the test suite this way,
so the floors written in pyproject.toml are ones the suite has passed on.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
FLOOR = re.compile(r">=\s*([^,;\s\]]+)")


def floor_constraints(pyproject: Path, extras: Sequence[str] = ()) -> list[str]:
    """``name==floor`` for each requirement with a ``>=`` bound, in pyproject order."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"no optional-dependencies group {extra!r} in {pyproject}")
        requirements += optional[extra]
    out: list[str] = []
    for req in requirements:
        spec, _, marker = req.partition(";")
        name = NAME.match(spec)
        floor = FLOOR.search(spec)
        if not name or not floor or name.group(1).lower() == project["name"].lower():
            continue
        line = f"{name.group(1)}=={floor.group(1)}"
        out.append(f"{line} ; {marker.strip()}" if marker.strip() else line)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pyproject", type=Path, default=Path(__file__).resolve().parents[1] / "pyproject.toml"
    )
    parser.add_argument("--extra", action="append", default=[], help="also pin this optional group's floors")
    args = parser.parse_args(argv)
    sys.stdout.write("".join(line + "\n" for line in floor_constraints(args.pyproject, args.extra)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
