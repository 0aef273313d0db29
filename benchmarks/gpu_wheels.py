"""`make gpu-wheels`: the wheels a GPU machine without a package index needs for the check.

GPU machines often come with PyTorch, the scientific stack and pytest-benchmark installed and
no way to reach PyPI (a cluster's compute node, an air-gapped workstation). `make gpu-check`
there needs only what such an image rarely has: open_clip (with ftfy and wcwidth, which its
tokenizer imports) and scikit-posthocs (``albench run`` prints a sweep summary through
:mod:`albench.stats`). All four come as pure-Python wheels, and only those are taken, so
one download serves any platform and Python 3. The versions are those installed here, the
ones the tests passed with. `make gpu-check-offline` installs the folder's wheels beside
that machine's Python (``--target``, no index, no dependencies) and runs the check.

    python -m benchmarks.gpu_wheels .whl
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

#: distributions the check imports that a GPU machine's image rarely holds
WHEELS = ("open-clip-torch", "ftfy", "wcwidth", "scikit-posthocs")


def pinned() -> list[str]:
    """``name==version`` of each of :data:`WHEELS` as installed here."""
    return [f"{name}=={version(name)}" for name in WHEELS]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("gpu-wheels: error: give one folder to download the wheels into", file=sys.stderr)
        return 2
    try:
        pins = pinned()
    except PackageNotFoundError as error:
        print(
            f"gpu-wheels: error: {error.name} is not installed here (make install)", file=sys.stderr
        )
        return 2
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    # pure-Python wheels only (wcwidth also ships compiled ones): any platform takes them
    command += ["--only-binary=:all:", "--platform=any", "--implementation=py"]
    command += ["--dest", args[0], *pins]
    done = subprocess.run(command, check=False)
    if done.returncode:
        print(f"gpu-wheels: error: pip could not download {' '.join(pins)}", file=sys.stderr)
        return 2
    print(f"{len(pins)} wheels in {args[0]}: {' '.join(pins)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
