"""Real external SPARQL engines for tests (issue 15, item 3): ``oxigraph serve`` (PyPI
``oxigraph``) and Virtuoso (Debian's ``virtuoso-opensource``), each started in a temporary
folder on a free port and stopped after.

Owned by the `engines` part of issue 15. Agreed interface::

    @dataclass(frozen=True)
    class Engine:
        name: str            # "oxigraph" or "virtuoso"
        query_url: str       # SPARQL 1.1 Protocol
        update_url: str      # SPARQL 1.1 Update
        gsp_url: str         # Graph Store Protocol ("" if the engine has none we use)
        user: str = ""
        password: str = ""
        def settings(self) -> dict  # publication_endpoint=…, … for make_settings/lantai.toml

    with oxigraph_engine(tmp_path) as engine: ...
    with virtuoso_engine(tmp_path) as engine: ...
    ENGINES = ("oxigraph", "virtuoso"); start_engine(name, tmp_path) -> context manager

Under CI a missing engine is a failure (support.require), elsewhere a skip.
"""
