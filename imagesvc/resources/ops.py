"""Liveness and readiness probes for operators: unauthenticated, unwrapped."""

import flask_smorest
from flask.views import MethodView

from ..db import db
from ..schemas import HealthSchema

blp = flask_smorest.Blueprint("ops", __name__, description="Operations.")


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.doc(security=[], operationId="getHealth")
    def get(self):
        """The process serves (never touches the database)"""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, HealthSchema)
    @blp.doc(security=[], operationId="getReadiness")
    def get(self):
        """The database answers a trivial query (503 otherwise)"""
        db.execute_sql("SELECT 1")
        return {"status": "ok"}
