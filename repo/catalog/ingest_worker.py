"""The second process of a large ingest's indexing: ``python -m repo.catalog.ingest_worker
READ_FD WRITE_FD`` (started by :class:`repo.catalog.ingestion.RemoteIndexer`)."""

from __future__ import annotations

import sys

from repo.catalog.ingestion import _PipeConnection, _worker

if __name__ == "__main__":
    _worker(_PipeConnection(int(sys.argv[1]), int(sys.argv[2])))
