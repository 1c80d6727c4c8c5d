"""Preservation: what keeps the site's holdings safe for decades (issue 14).

The references are Fedora 6 (files on disk as OCFL), Archivematica (fixity, PREMIS events)
and restic (encrypted, deduplicated, verified backups). Each module has one job:

- ``keys``      the site master key (never inside the site folder: ``--key-file``,
                ``LANTAI_KEY_FILE``, ``<home>.key``), its id, sub-keys, sealing small secrets
- ``crypt``     files sealed with AES-256-GCM in 64 KiB chunks, read at any offset
- ``keyring``   each sealed file's own data key, wrapped by the master key
                (``{home}/preservation/keyring.sqlite3``); ``lantai keys rotate`` re-wraps it
- ``rotation``  ``lantai keys new|rotate|check``: a new master key for every wrapped key and
                sealed secret of the site, resumable after a crash
- ``ocfl``      an OCFL 1.1 storage root (``{home}/files``): objects, versions, inventories;
                checked by ocfl-py's validator
- ``ocfl_check`` ocfl-py taught the 0004 layout: validate the root and its objects
- ``deposit``   after each changeset, the files of the records it touched go into their OCFL
                object (a new version when a file is added or replaced); migration of sites
                made before OCFL (``lantai files migrate``)
- ``events``    PREMIS-style events (fixity check, ingestion, replacement, repair) per object
                (``{home}/preservation/events.sqlite3``)
- ``fixity``    ``lantai fixity [--share K/N]``: read files, compare with the inventories
- ``backup``    ``lantai backup``: a consistent snapshot of the site sent to restic;
                ``lantai backup forget`` applies the retention
- ``restore``   ``lantai restore SNAPSHOT --home NEW`` and its proof; ``lantai repair``
- ``audit``     the hash chain over every changeset, signed checkpoints, ``lantai audit verify``
- ``cli``       the commands above (registered in ``repo/cli.py``)

Data flows one way here too: the repository commits; preservation files what was committed,
checks it and copies it away; it never changes a description (PREMIS events live beside the
descriptions, not in them).
"""
