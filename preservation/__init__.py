"""Preservation: the keys that protect what the site holds (more to come: the OCFL file store,
backup and restore, fixity, the history chain — issue 14).

- ``keys``  the site master key (never inside the site folder) and sealing with AES-256-GCM
"""
