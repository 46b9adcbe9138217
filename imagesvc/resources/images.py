"""/api/images: the catalog's images."""

from flask import Response, g, request, url_for
from flask.views import MethodView

from .. import catalog, responses
from ..api import IF_NONE_MATCH_PARAMETER, IMAGE_ID_PARAMETER, Blueprint, not_modified
from ..auth import auth, current_actor
from ..schemas import (
    ImageCreateSchema,
    ImagePageSchema,
    ImageQueryArgsSchema,
    ImageSchema,
    ImageUpdateSchema,
    StatusUpdatedSchema,
    StatusUpdateSchema,
)

blp = Blueprint("images", __name__, url_prefix="/api/images", description="Images of the catalog.")

IF_MATCH_DOC = {"parameters": [{
    "in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
    "description": "The image's ETag: the write is refused with 412 if the image changed since.",
}]}
ETAG = {"ETag": {"description": "The image's current ETag, for If-None-Match and If-Match.",
                 "schema": {"type": "string"}}}


# Where a created image leads: its id feeds every operation on it (OpenAPI links).
CREATED_IMAGE_LINKS = {
    name: {"operationId": operation, "parameters": {"id": "$response.body#/data/id"}}
    for name, operation in (("GetImage", "getImage"), ("UpdateImage", "updateImage"),
                            ("SetImageStatus", "setImageStatus"), ("DeleteImage", "deleteImage"),
                            ("ListVersions", "listVersions"), ("CreateVersion", "createVersion"),
                            ("GetImageHistory", "getImageHistory"))
}


def with_etag(image, status=200, headers=None, body=None):
    """The view result for ``image`` (or its ``body``, encoded already), tagged with its ETag."""
    return image if body is None else body, status, {"ETag": f'"{image.etag}"', **(headers or {})}


@blp.route("")
class Images(MethodView):
    @auth.login_required(role="reader")
    @responses.by_generation
    @blp.arguments(ImageQueryArgsSchema, location="query")
    @blp.response(200, ImagePageSchema)
    @blp.doc(operationId="listImages")
    def get(self, args):
        """List images, filtered and paged

        Role: reader. Every filter is optional and an empty value means "not given".
        """
        return catalog.list_images(g.catalog_state, **args)

    @auth.login_required(role="editor")
    @blp.arguments(ImageCreateSchema)
    @blp.response(201, ImageSchema, message="创建镜像成功",
                  headers={"Location": {"description": "The new image's URL.", "schema": {"type": "string"}},
                           **ETAG})
    @blp.doc(operationId="createImage", responses={201: {"links": CREATED_IMAGE_LINKS}})
    def post(self, fields):
        """Create an image

        Role: editor. Duplicate name or imageId (ignoring case): 409.
        """
        image = catalog.create_image(fields, current_actor())
        return with_etag(image, 201, {"Location": url_for("images.ImageById", id=image.id)})


@blp.route("/<image:id>", parameters=[IMAGE_ID_PARAMETER])
class ImageById(MethodView):
    @auth.login_required(role="reader")
    @blp.response(200, ImageSchema, headers=ETAG)
    @blp.alt_response(304, response=not_modified())
    @blp.doc(operationId="getImage", parameters=[IF_NONE_MATCH_PARAMETER])
    def get(self, id):
        """Get an image

        Role: reader. Unknown id: 404.
        """
        image = catalog.show_image(id)
        if request.if_none_match.contains_weak(image.etag):
            return Response(status=304, headers={"ETag": f'"{image.etag}"'})
        return with_etag(image, body=image.body)

    @auth.login_required(role="editor")
    @blp.arguments(ImageUpdateSchema)
    @blp.response(200, ImageSchema, message="更新镜像成功", headers=ETAG)
    @blp.doc(operationId="updateImage", **IF_MATCH_DOC)
    def put(self, changes, id):
        """Update an image (partial)

        Role: editor. Any non-empty subset of the writable fields except status.
        """
        return with_etag(catalog.update_image(id, changes, request.if_match, current_actor()))

    @auth.login_required(role="editor")
    @blp.response(200, message="删除镜像成功")
    @blp.doc(operationId="deleteImage", **IF_MATCH_DOC)
    def delete(self, id):
        """Delete an image and all its versions

        Role: editor.
        """
        catalog.delete_image(id, request.if_match, current_actor())


@blp.route("/<image:id>/status", parameters=[IMAGE_ID_PARAMETER])
class ImageStatus(MethodView):
    @auth.login_required(role="editor")
    @blp.arguments(StatusUpdateSchema)
    @blp.response(200, StatusUpdatedSchema, message="状态更新成功", headers=ETAG)
    @blp.doc(operationId="setImageStatus", **IF_MATCH_DOC)
    def put(self, body, id):
        """Change an image's status

        Role: editor. online, offline or pending.
        """
        return with_etag(catalog.set_status(id, body["status"], request.if_match, current_actor()))
