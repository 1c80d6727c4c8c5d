"""Students' growth records (成长档案, issue 13): a pilot student's university years on a
timeline, in four strands (the SKOS scheme ``{base}/vocab/strand``: research, practice,
party, honours).

A growth record is not a new kind of thing: it is what the repository says in RiC-O about a
person — the activities (``rico:Activity``, with ``rico:hasActivityType`` a strand) they took
part in (``rico:hasOrHadParticipant``), with dates and places, and the records that document
them (``rico:documents``), which came in through the filing loop (services.filing).

- ``model``    the strands; an entry of a growth record and the evidence for it
- ``records``  a person's growth record, read from the working store (what the reader may view)
- ``view``     what the page and the PDF show: strand labels, sections, dates, timeline spans
- ``pages``    the timeline (``/staff/growth/…``; a student's own at ``/staff/growth/me``),
               filterable by strand, 中文/English; the PDF download
- ``pdf``      the growth record as a PDF, signed like a certified copy
- ``consent``  the student's consent to show items on the student exhibit: recorded with
               time and scope, revocable; applied through the Repository (open + published +
               featured; revoked: closed again and no longer featured)
- ``cli``      ``lantai growth …``
- ``demo``     three pilot graduates of 2020 with growth records, one with consented items

Growth records are personal data: only staff and the student themself see them; only
consented items ever reach a public surface.
"""

from __future__ import annotations

STAFF_PARTS = ("services.growth.pages", "services.growth.consent_pages")
