"""Check the file store with ocfl-py, the independent OCFL validator (issue 14, item 1).

ocfl-py 2.1 validates objects against every rule of OCFL 1.1, but its storage-root code
knows the layouts 0002 and 0003 only: ``ocfl_layout.json`` naming the registered extension
``0004-hashed-n-tuple-storage-layout`` (ours) is its error E071 "unsupported layout". Its
layout registry takes new layouts (``ocfl.layout_registry.add_layout``); :func:`register`
adds 0004 (a few lines: the same hashed tuples as 0003, with the whole digest as the folder)
so that ``ocfl.StorageRoot`` walks, lists and validates our root.

Two warnings are expected, and left out of what :func:`validate_root` reports:

- ``W901`` (an extension folder not in ocfl-py's list of registered ones) for 0004: it *is*
  a registered OCFL community extension, ocfl-py's list is just older;
- ``W004`` (inventories SHOULD use sha512): the spec allows sha256 (a MUST-level choice of
  sha512 or sha256), and sha256 is what the whole site names files by (the descriptions'
  ``digest``, the 0004 layout): one algorithm, one digest to check per file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import ocfl
from ocfl.layout import Layout, LayoutException
from ocfl.layout_registry import add_layout, layout_is_supported
from ocfl.validator import Validator

from preservation.ocfl import LAYOUT

EXPECTED_WARNINGS = ("W901", "W004")


class Layout0004(Layout):
    """Extension 0004 for ocfl-py: sha256(id) split into tuples, then the whole digest."""

    def __init__(self) -> None:
        super().__init__()
        self.NAME = LAYOUT
        self.DESCRIPTION = "Extension 0004: Hashed N-tuple Storage Layout"
        self.digest_algorithm = "sha256"
        self.tuple_size = 3
        self.number_of_tuples = 3
        self.short_object_root = False
        self.PARAMS = {"digestAlgorithm": self._set("digest_algorithm", str),
                       "tupleSize": self._set("tuple_size", int),
                       "numberOfTuples": self._set("number_of_tuples", int),
                       "shortObjectRoot": self._set("short_object_root", bool)}

    def _set(self, attr: str, kind: type) -> Any:
        def check(value: Any) -> None:
            if value is None:
                return  # the extension's default
            if not isinstance(value, kind):
                raise LayoutException(f"{attr}: {value!r} is not a {kind.__name__}")
            setattr(self, attr, value)
        return check

    @property
    def config(self) -> dict[str, Any]:
        return {"extensionName": self.NAME, "digestAlgorithm": self.digest_algorithm,
                "tupleSize": self.tuple_size, "numberOfTuples": self.number_of_tuples,
                "shortObjectRoot": self.short_object_root}

    def identifier_to_path(self, identifier: str) -> str:
        digest = hashlib.new(self.digest_algorithm, identifier.encode()).hexdigest()
        size, count = self.tuple_size, self.number_of_tuples
        tuples = [digest[i * size:(i + 1) * size] for i in range(count)]
        last = digest[size * count:] if self.short_object_root else digest
        return os.path.join(*tuples, last)


def register() -> None:
    """Teach ocfl-py the 0004 layout (idempotent)."""
    if not layout_is_supported(LAYOUT):
        add_layout(LAYOUT, Layout0004)


def validate_root(root: Path | str, *, check_digests: bool = True) -> tuple[bool, list[str]]:
    """Validate the storage root and every object in it with ocfl-py.

    Returns (valid, messages): the messages are ocfl-py's errors and warnings, one per
    line, without the warnings listed in :data:`EXPECTED_WARNINGS`.
    """
    register()
    store = ocfl.StorageRoot(str(root))
    valid = store.validate(check_digests=check_digests, log_warnings=True)
    messages = [line for _path, text in store.errors for line in text.splitlines()]
    messages += [line for line in str(store.log).splitlines()]
    messages = [m for m in messages if m.strip()
                and not any(f"[{code}]" in m for code in EXPECTED_WARNINGS)]
    return bool(valid) and store.good_objects == store.num_objects, messages


def validate_object(path: Path | str, *, check_digests: bool = True) -> tuple[bool, list[str]]:
    """Validate one object folder with ocfl-py (errors and warnings, one per line)."""
    validator = Validator(log_warnings=True, check_digests=check_digests)
    valid = validator.validate_object(str(path))
    messages = [m for m in str(validator).splitlines() if m.strip()
                and not any(f"[{code}]" in m for code in EXPECTED_WARNINGS)]
    return bool(valid), messages


def main(argv: list[str] | None = None) -> int:
    """``python -m preservation.ocfl_check ROOT``: ocfl-py on the whole root (exit 0 = valid)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m preservation.ocfl_check STORAGE_ROOT", file=sys.stderr)
        return 2
    valid, messages = validate_root(args[0])
    for line in messages:
        print(line)
    print(f"{args[0]}: {'VALID' if valid else 'INVALID'} OCFL 1.1 storage root")
    return 0 if valid else 1


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Layout0004", "main", "register", "validate_object", "validate_root"]
