"""The public face of a Lantai site: a Flask application over the publication dataset.

It never opens the working store: what is not in the publication dataset cannot be shown
(DESIGN.md §2). The application factory is :func:`publisher.app.create_app`.
"""
