"""IIIF for the archive: Image API 3, Presentation 3, OCR and Content Search 2 (and 1.0).

URL layout (all under the site's base IRI; only objects in the publication dataset answer,
everything else is 404, guessed identifiers and derivative paths included):

- ``/iiif/3/{id}``                          Image API 3 (``id`` = an image instantiation's key)
- ``/iiif/3/{id}/info.json``                its image information
- ``/iiif/manifest/{kind}/{key}``           Presentation 3 manifest of a digitised record
- ``/iiif/collection/{kind}/{key}``         Presentation 3 collection of a fonds/series/collection
- ``/iiif/annotations/{id}/ocr``            OCR lines of one page image, an AnnotationPage
- ``/iiif/annotations/{id}/transcript``     cues of one WebVTT transcript (``#t=`` targets)
- ``/iiif/search/{kind}/{key}``             Content Search 2 over a record's OCR and transcripts
- ``/iiif/autocomplete/{kind}/{key}``       its AutoComplete service
- ``/iiif/search/1/{kind}/{key}``           the same search in Content Search 1.0
- ``/iiif/autocomplete/1/{kind}/{key}``     its 1.0 AutoComplete service

Canvases are ``{manifest id}/canvas/{id}`` with ``id`` the instantiation key.

Derivatives live in ``{home}/derivatives/{sha256 hex}/`` (regenerable from the original in the
file store, never the only copy): ``pyramid.tif`` (tiled pyramidal TIFF), ``thumb.jpg``,
``ocr.json`` (recognised lines with boxes), ``poster.jpg`` and ``media.json`` (A/V facts).
"""
