"""The EAD 2002 W3C schema, to validate what we export.

The schema is not ours to copy: it comes with the ``neuxml`` package from PyPI (Apache-2,
``neuxml/schema_data/ead.xsd``, the Library of Congress / SAA "EAD 2002 W3C Schema",
20210412 release), a test dependency. Its ``xs:import`` of XLink points at loc.gov; we point
it at the ``xlink.xsd`` shipped beside it, so validation never touches the network.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from lxml import etree

from repo.errors import Invalid
from repo.importers.safexml import parser_options

XLINK_LOCATION = "http://www.loc.gov/standards/xlink/xlink.xsd"


def schema_folder() -> Path:
    spec = importlib.util.find_spec("neuxml")
    if spec is None or not spec.submodule_search_locations:
        raise Invalid("the EAD 2002 schema comes with the neuxml package: pip install neuxml")
    folder = Path(next(iter(spec.submodule_search_locations))) / "schema_data"
    if not (folder / "ead.xsd").is_file():
        raise Invalid(f"no ead.xsd in {folder}")
    return folder


@cache
def ead_schema() -> etree.XMLSchema:
    """The EAD 2002 schema, loaded from local files only."""
    folder = schema_folder()
    doc = etree.parse(str(folder / "ead.xsd"), etree.XMLParser(**parser_options()))
    for imp in doc.getroot().iter("{http://www.w3.org/2001/XMLSchema}import"):
        if imp.get("schemaLocation") == XLINK_LOCATION:
            imp.set("schemaLocation", (folder / "xlink.xsd").as_uri())
    return etree.XMLSchema(doc)


def validate(data: bytes | Path) -> list[str]:
    """Problems with an EAD document against the schema (empty when it is valid)."""
    parser = etree.XMLParser(**parser_options())
    doc = etree.parse(str(data), parser) if isinstance(data, Path) else etree.fromstring(
        data, parser).getroottree()
    schema = ead_schema()
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
