"""The WSGI entry point: ``gunicorn wsgi:app``."""

from imagesvc import create_app

app = create_app()
