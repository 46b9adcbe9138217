"""/api/images/<image_id>/versions: the versions of an image."""

from flask.views import MethodView

from .. import catalog, responses
from ..api import Blueprint
from ..auth import auth, current_actor
from ..schemas import PageArgsSchema, VersionCreateSchema, VersionPageSchema, VersionSchema

# Where a created version leads (OpenAPI links).
CREATED_VERSION_LINKS = {
    "GetVersion": {"operationId": "getVersion", "parameters": {
        "image_id": "$request.path.image_id", "version": "$response.body#/data/version"}},
    "DeleteVersion": {"operationId": "deleteVersion", "parameters": {
        "image_id": "$request.path.image_id", "version": "$response.body#/data/version"}},
    "ListVersions": {"operationId": "listVersions", "parameters": {"image_id": "$request.path.image_id"}},
}

blp = Blueprint("versions", __name__, url_prefix="/api/images/<image_id>/versions",
                description="Versions of an image.")


@blp.route("")
class Versions(MethodView):
    @auth.login_required(role="reader")
    @responses.by_generation
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, VersionPageSchema)
    @blp.doc(operationId="listVersions")
    def get(self, args, image_id):
        """List an image's versions, newest first

        Role: reader. Without pageNo and pageSize: every version, up to the 1000 newest.
        """
        return catalog.list_versions(image_id, **args)

    @auth.login_required(role="editor")
    @blp.arguments(VersionCreateSchema)
    @blp.response(201, VersionSchema, message="创建版本成功")
    @blp.doc(operationId="createVersion", responses={201: {"links": CREATED_VERSION_LINKS}})
    def post(self, fields, image_id):
        """Create a version

        Role: editor. Duplicate version in this image (ignoring case): 409.
        """
        return catalog.create_version(image_id, fields, current_actor())


@blp.route("/<version>")
class VersionByName(MethodView):
    @auth.login_required(role="reader")
    @blp.response(200, VersionSchema)
    @blp.doc(operationId="getVersion")
    def get(self, image_id, version):
        """Get one version (beyond)

        Role: reader. The version is matched ignoring case.
        """
        return catalog.get_version(image_id, version)

    @auth.login_required(role="editor")
    @blp.response(200, message="删除版本成功")
    @blp.doc(operationId="deleteVersion")
    def delete(self, image_id, version):
        """Delete one version (beyond)

        Role: editor.
        """
        catalog.delete_version(image_id, version, current_actor())
