"""Importers: finding aids (EAD 2002) and authority records (EAC-CPF) into the repository.

- ``safexml``  streaming, hostile-input-proof XML reading (no DTD, no entities, no network)
- ``lang``     which language a text is in (xml:lang, @lang, @altrender, hints, script)
- ``dates``    EAD/EAC normalised dates (ISO 8601) to typed RDF literals
- ``ead``      EAD 2002 → component records (``read``) → repository objects (``import_ead``)
- ``agents``   find or create the agents and places access points name
- ``eac``      EAC-CPF → agents (``import_eac``)
- ``cli``      ``lantai import ead|eac``

Every file is imported by one :meth:`Repository.ingest` (all or nothing); the mapping
tables are data, in ``ontology/mappings/``.
"""
