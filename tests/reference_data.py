"""The shared reference data for the EAD/EAC tests, which CI must have.

``conftest.reference`` skips when ``../shared/reference`` is missing, which is right on a bare
clone but would let CI pass without the tests that need it. Here, under CI (``CI`` set) a
missing directory or file is a failure, elsewhere a skip that says what is missing. The EAD
and EAC test modules override conftest's ``reference`` fixture with :func:`reference_dir`.
"""

from __future__ import annotations

from pathlib import Path

from support import REFERENCE, require


def reference_path(*parts: str) -> Path:
    """``../shared/reference/PARTS…``: fails under CI when missing, else skips."""
    path = REFERENCE.joinpath(*parts)
    require(path.exists(), f"reference data missing: {path} (tests read ../shared/reference)")
    return path


def reference_dir() -> Path:
    """The reference directory, checked for the files the EAD/EAC tests read."""
    for parts in (("RiC-O_1-1.ttl",), ("ead-samples", "anf-input-ead"),
                  ("ead-samples", "anf-input-eac"), ("ead-samples", "anf-rico-1.1-output"),
                  ("ead-samples", "rico-converter-unit-tests")):
        reference_path(*parts)
    return REFERENCE
