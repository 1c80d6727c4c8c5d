"""The RiC-O 1.1 application profile of Lantai.

Data first: ``profile.ttl`` (SHACL shapes, one per content type, which are also the content
types' schemas), ``vocabularies.ttl`` (local SKOS schemes: record categories, retention periods,
access levels) and ``context.jsonld``. The Python modules only read them.
"""
