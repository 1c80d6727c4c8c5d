"""Example queries on the SPARQL page: questions a scholar would ask of this archive.

Each is written against the archive's profile (RiC-O for description, schema.org for
exhibits); ``{base}`` becomes the site's base IRI and ``{lang}`` the page's language, so the
labels come back in the language the visitor reads.
"""

from __future__ import annotations

from publisher.i18n import ui_text

PROLOGUE = """PREFIX rico: <https://www.ica.org/standards/RiC/ontology#>
PREFIX schema: <http://schema.org/>
"""

EXAMPLES: tuple[dict, ...] = (  # labels: message ids of the catalogs
    {"id": "fonds-by-decade", "label": ui_text("Records of a fonds by decade"),
     "query": """SELECT ?decade (COUNT(?record) AS ?records) WHERE {
  ?fonds rico:identifier "0421" .               # 全宗号 fonds number
  ?record rico:isDirectlyIncludedIn+ ?fonds ;
          rico:beginningDate ?date .
  BIND (CONCAT(SUBSTR(STR(?date), 1, 3), "0s") AS ?decade)
}
GROUP BY ?decade
ORDER BY ?decade"""},
    {"id": "interviews-by-narrator", "label": ui_text("Oral-history interviews by narrator"),
     "query": """SELECT ?narrator ?name ?date ?record ?title WHERE {
  ?interview a rico:Event ;
             rico:hasOrHadParticipant ?narrator ;
             rico:beginningDate ?date .
  ?narrator a rico:Person ; rico:name ?name .
  ?record rico:isAssociatedWithEvent ?interview ; rico:title ?title .
  FILTER (LANG(?name) = "{lang}" && LANG(?title) = "{lang}")
}
ORDER BY ?name ?date"""},
    {"id": "agents-created", "label": ui_text("Agents and what they created"),
     "query": """SELECT ?agent ?name (COUNT(?record) AS ?created) (SAMPLE(?title) AS ?example)
WHERE {
  ?record rico:hasCreator ?agent ; rico:title ?title .
  ?agent rico:name ?name .
  FILTER (LANG(?name) = "{lang}" && LANG(?title) = "{lang}")
}
GROUP BY ?agent ?name
ORDER BY DESC(?created) ?name"""},
    {"id": "exhibits-featured", "label": ui_text("Exhibits and their featured records"),
     "query": """SELECT ?exhibit ?exhibitName ?sectionName ?record ?title WHERE {
  ?exhibit a schema:ExhibitionEvent ; schema:name ?exhibitName .
  { ?exhibit schema:hasPart ?record }
  UNION
  { ?section schema:isPartOf ?exhibit ; schema:hasPart ?record ; schema:name ?sectionName .
    FILTER (LANG(?sectionName) = "{lang}") }
  ?record a rico:Record ; rico:title ?title .
  FILTER (LANG(?exhibitName) = "{lang}" && LANG(?title) = "{lang}")
}
ORDER BY ?exhibitName ?sectionName ?title"""},
    {"id": "records-by-category", "label": ui_text("Records by category (门类)"),
     "query": """SELECT ?category (COUNT(DISTINCT ?record) AS ?records) WHERE {
  ?series rico:hasOrHadType ?type .
  FILTER STRSTARTS(STR(?type), "{base}/vocab/category/")
  ?record a rico:Record ; rico:isDirectlyIncludedIn+ ?series .
  BIND (STRAFTER(STR(?type), "/vocab/category/") AS ?category)
}
GROUP BY ?category
ORDER BY DESC(?records)"""},
    {"id": "children", "label": ui_text("Children of a series or file"),
     "query": """SELECT ?child ?code ?title WHERE {
  ?parent rico:identifier "0421-XS" .
  ?child rico:isDirectlyIncludedIn ?parent ; rico:title ?title .
  OPTIONAL { ?child rico:identifier ?code }
  FILTER (LANG(?title) = "{lang}")
}
ORDER BY ?code"""},
    {"id": "places", "label": ui_text("Records about each place"),
     "query": """SELECT ?place ?placeName (COUNT(?record) AS ?records) WHERE {
  ?record rico:isAssociatedWithPlace ?place .
  ?place rico:name ?placeName .
  FILTER (LANG(?placeName) = "{lang}")
}
GROUP BY ?place ?placeName
ORDER BY DESC(?records)"""},
    {"id": "mentions", "label": ui_text("Records whose scope mentions the special trains"),
     "query": """SELECT ?record ?title ?scope WHERE {
  ?record rico:scopeAndContent ?scope ; rico:title ?title .
  FILTER (CONTAINS(?scope, "专列") && LANG(?title) = "zh")
}"""},
    {"id": "describe", "label": ui_text("Everything about one record (a graph)"),
     "query": """DESCRIBE <{base}/id/record/oh-01>"""},
    {"id": "construct-hierarchy", "label": ui_text("The hierarchy as a graph (CONSTRUCT)"),
     "query": """CONSTRUCT {
  ?part rico:isDirectlyIncludedIn ?whole ; rico:title ?title .
} WHERE {
  ?part rico:isDirectlyIncludedIn ?whole ; rico:title ?title .
  FILTER (LANG(?title) = "{lang}")
}"""},
)


def examples(base: str, lang: str) -> list[dict[str, str]]:
    """The examples ready to run: prefixes declared, base and language filled in."""
    out = []
    for ex in EXAMPLES:
        text = ex["query"].replace("{base}", base).replace("{lang}", lang)
        out.append({"id": ex["id"], "label": ex["label"].in_lang(lang),
                    "query": PROLOGUE + "\n" + text + "\n"})
    return out
