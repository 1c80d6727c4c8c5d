"""Lantai's content repository: the one door through which every change passes.

Modules, in the order data flows through them:

- ``config``       the site home (``--home``): base IRI, stores, settings
- ``store``        the working and publication Oxigraph stores and the write journal
- ``objects``      an archival object's state (description graph + management facts)
- ``values``       archivists' input (``title@zh=…``) to RDF terms, checked against the profile
- ``validation``   the compiled SHACL checks
- ``refcodes``     reference codes (档号) per DA/T 13-2022
- ``security``     users, roles, local roles, permissions
- ``workflow``     private → pending → published
- ``access``       open / restricted / personal / embargoed, and automatic release
- ``revisions``    changesets, RDF Patch, history, diff, revert
- ``publication``  the public view of an object and the publication dataset
- ``repository``   the Repository: every operation, checked, validated, recorded, published
- ``accounts``     user accounts (a part of the Repository)
- ``ingest``       bulk ingest, all or nothing (a part of the Repository)
- ``importers``, ``exporters``  EAD 2002 and EAC-CPF in and out
- ``catalog``      full-text and faceted search, staff and public, kept in step by a listener
- ``files``        the content-addressed file store
- ``demo``         the demo archive
- ``cli``          the ``lantai`` command
"""
