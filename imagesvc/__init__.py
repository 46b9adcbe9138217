"""imagesvc: the catalog of container images of an AI compute platform."""

import weakref
from inspect import iscoroutinefunction

from flask import Flask

from . import config, db, headers, logs, responses


class ImageService(Flask):
    """Flask, remembering which views and hooks are coroutines.

    Flask asks ``inspect`` of each of the dozen-odd functions a request passes through, on
    every request; the answer never changes for a function.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._is_coroutine = weakref.WeakKeyDictionary()

    def ensure_sync(self, func):
        # A bound method is new on each request (MethodView): remember its function.
        key = getattr(func, "__func__", func)
        try:
            is_coroutine = self._is_coroutine[key]
        except (KeyError, TypeError):  # TypeError: not weakly referable
            is_coroutine = iscoroutinefunction(func)
            try:
                self._is_coroutine[key] = is_coroutine
            except TypeError:
                pass
        return self.async_to_sync(func) if is_coroutine else func


def create_app(config_overrides=None):
    """Build the app: defaults, then ``IMAGESVC_*`` environment variables, then the mapping.

    Does no database I/O, so gunicorn may fork after importing it.
    """
    app = ImageService(__name__, instance_relative_config=True, static_folder=None)
    app.config.from_object(config)
    app.config.from_prefixed_env("IMAGESVC")
    app.config.update(config_overrides or {})
    app.json.ensure_ascii = False  # Chinese stays readable
    app.json.sort_keys = False
    logs.init_app(app)
    db.init_app(app)
    responses.init_app(app)
    register_api(app)
    headers.init_app(app)
    register_cli(app)
    return app


def register_api(app):
    from . import metrics
    from .api import Api
    from .resources import catalog_files, docs, feed, history, images, ops, versions

    api = Api(app, spec_kwargs={"extra_plugins": [docs.ErrorResponses()]})
    for module in (images, feed, versions, history, catalog_files, ops):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    metrics.init_app(app, api)


def register_cli(app):
    from .cli import catalog_cli, db_cli, token_cli

    for group in (token_cli, db_cli, catalog_cli):
        app.cli.add_command(group)
