"""imagesvc: the catalog of container images of an AI compute platform."""

from flask import Flask


def create_app(config_overrides=None):
    """Build the app: defaults, then ``IMAGESVC_*`` environment variables, then the mapping.

    Does no database I/O, so gunicorn may fork after importing it.
    """
    # Imported here, not with the package: gunicorn's master imports imagesvc.logs for its log
    # format, and must not import peewee before a gevent worker has patched threading.
    from . import config, db, headers, logs, rate_limits, responses
    from .encoding import OrjsonProvider

    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.json = OrjsonProvider(app)
    app.config.from_object(config)
    app.config.from_prefixed_env("IMAGESVC")
    app.config.update(config_overrides or {})
    logs.init_app(app)
    db.init_app(app)
    responses.init_app(app)
    register_api(app)
    rate_limits.init_app(app)
    headers.init_app(app)
    register_cli(app)
    return app


def register_api(app):
    from . import metrics
    from .api import Api
    from .resources import catalog_files, docs, feed, history, images, ops, versions

    api = Api(app, spec_kwargs={"extra_plugins": [docs.ErrorResponses()]})
    docs.init_api(api)
    for module in (images, feed, versions, history, catalog_files, ops):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)
    metrics.init_app(app, api)


def register_cli(app):
    from .cli import catalog_cli, db_cli, token_cli

    for group in (token_cli, db_cli, catalog_cli):
        app.cli.add_command(group)
