"""/api/images/<id>/versions: the versions of an image."""

from flask.views import MethodView

from .. import catalog, responses
from ..api import IMAGE_ID_PARAMETER, Blueprint
from ..auth import auth, current_actor
from ..schemas import PageArgsSchema, VersionCreateSchema, VersionPageSchema, VersionSchema

# Where a created version leads (OpenAPI links).
CREATED_VERSION_LINKS = {
    "GetVersion": {"operationId": "getVersion", "parameters": {
        "id": "$request.path.id", "version": "$response.body#/data/version"}},
    "DeleteVersion": {"operationId": "deleteVersion", "parameters": {
        "id": "$request.path.id", "version": "$response.body#/data/version"}},
    "ListVersions": {"operationId": "listVersions", "parameters": {"id": "$request.path.id"}},
}

VERSION_PARAMETER = {"in": "path", "name": "version", "required": True, "schema": {"type": "string"},
                     "description": "The version's name, matched ignoring case."}

blp = Blueprint("versions", __name__, url_prefix="/api/images/<image:id>/versions",
                description="Versions of an image.")


@blp.route("", parameters=[IMAGE_ID_PARAMETER])
class Versions(MethodView):
    @auth.login_required(role="reader")
    @responses.by_generation
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, VersionPageSchema)
    @blp.doc(operationId="listVersions")
    def get(self, args, id):
        """List an image's versions, newest first

        Role: reader. Without pageNo and pageSize: every version, up to the 1000 newest.
        """
        return catalog.list_versions(id, **args)

    @auth.login_required(role="editor")
    @blp.arguments(VersionCreateSchema)
    @blp.response(201, VersionSchema, message="创建版本成功")
    @blp.doc(operationId="createVersion", responses={201: {"links": CREATED_VERSION_LINKS}})
    def post(self, fields, id):
        """Create a version

        Role: editor. Duplicate version in this image (ignoring case): 409.
        """
        return catalog.create_version(id, fields, current_actor())


@blp.route("/<version>", parameters=[IMAGE_ID_PARAMETER, VERSION_PARAMETER])
class VersionByName(MethodView):
    @auth.login_required(role="reader")
    @blp.response(200, VersionSchema)
    @blp.doc(operationId="getVersion")
    def get(self, id, version):
        """Get one version

        Role: reader. The version is matched ignoring case.
        """
        return catalog.get_version(id, version)

    @auth.login_required(role="editor")
    @blp.response(200, message="删除版本成功")
    @blp.doc(operationId="deleteVersion")
    def delete(self, id, version):
        """Delete one version

        Role: editor.
        """
        catalog.delete_version(id, version, current_actor())
