"""Exporters: the repository back out as finding aids.

- ``ead``     a subtree as EAD 2002 (namespaced, schema-valid), streamed
- ``schema``  the EAD 2002 W3C schema (from the neuxml package) to validate it
- ``cli``     ``lantai export ead``
"""
