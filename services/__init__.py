"""Services the archive runs for its people, beside the repository (DESIGN.md, decision 7).

Each owns its module tree and its storage, and changes descriptions only through
:class:`repo.repository.Repository`:

- ``services.requests``  查档: graduates request their records; certified copies, verification
"""
