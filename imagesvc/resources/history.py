"""The history of every change: per image (readers) and across the catalog (admins)."""

from flask.views import MethodView

from .. import catalog
from ..api import IMAGE_ID_PARAMETER, Blueprint
from ..auth import auth
from ..schemas import AuditArgsSchema, ChangePageSchema, HistoryArgsSchema

blp = Blueprint("history", __name__, description="Who changed what, and when.")


@blp.route("/api/images/<image:id>/history", parameters=[IMAGE_ID_PARAMETER])
class ImageHistory(MethodView):
    @auth.login_required(role="reader")
    @blp.arguments(HistoryArgsSchema, location="query")
    @blp.response(200, ChangePageSchema)
    @blp.doc(operationId="getImageHistory")
    def get(self, args, id):
        """The changes of one image, newest first

        Role: reader. Still answers after the image was deleted.
        """
        return catalog.image_history(id, **args)


@blp.route("/api/audit")
class Audit(MethodView):
    @auth.login_required(role="admin")
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, ChangePageSchema)
    @blp.doc(operationId="listChanges")
    def get(self, args):
        """Every change to the catalog, newest first

        Role: admin. Filter by imageId, tokenName and since (a time).
        """
        return catalog.audit(**args)
