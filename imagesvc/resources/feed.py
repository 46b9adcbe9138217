"""/api/images/feed: the online images of a scope, for notebook spawners that poll."""

import hashlib

from flask import Response, g, jsonify, request
from flask.views import MethodView
from markupsafe import escape

from .. import catalog
from ..api import IF_NONE_MATCH_PARAMETER, Blueprint, envelope_schema, not_modified
from ..auth import auth
from ..errors import NothingToSpawn
from ..models import fold
from ..schemas import FeedArgsSchema, FeedSchema, JupyterHubProfileSchema, KubeflowFeedSchema

blp = Blueprint("feed", __name__, url_prefix="/api/images/feed",
                description="The spawner feed: online images of a scope.")

ETAG = {"ETag": {"description": "Moves with every write to the catalog: poll with If-None-Match.",
                 "schema": {"type": "string"}}}
# format=json is the envelope; the spawners' shapes go out as their spawners read them.
FEED_200 = {"description": "The feed, in the shape `format` asks for.", "headers": ETAG, "content": {
    "application/json": {"schema": {"oneOf": [
        envelope_schema(FeedSchema), KubeflowFeedSchema, {"type": "array", "items": JupyterHubProfileSchema},
    ]}}}}


def _is_default(image, default_image_id):
    return default_image_id is not None and fold(image.external_id) == fold(default_image_id)


def kubeflow_options(images, default_image_id=None):
    """Kubeflow's notebook spawner: the ``spawnerFormDefaults.image`` block of its
    spawner_ui_config.yaml, offering the default image's address first."""
    addresses = list(dict.fromkeys(
        address for image in images for address in [image.image_address, *(v.image_address for v in image.versions)]
    ))
    if not addresses:
        raise NothingToSpawn()
    value = next((image.image_address for image in images if _is_default(image, default_image_id)), addresses[0])
    return {"spawner_form_defaults": {"image": {"value": value, "options": addresses, "read_only": False}}}


def _default_version(image):
    """The version whose address is the image's own, else the newest (versions come newest first)."""
    return next((v for v in image.versions if v.image_address == image.image_address), image.versions[0])


def jupyterhub_profiles(images, default_image_id=None):
    """JupyterHub KubeSpawner's ``profile_list``: one profile per image, its versions as choices
    keyed by their names. KubeSpawner puts names and descriptions into its page as HTML, so
    they are escaped here."""
    profiles = []
    for image in images:
        profile = {
            "display_name": escape(image.name),
            "slug": image.external_id.lower(),
            "description": escape(image.description),
            "default": _is_default(image, default_image_id),
            "kubespawner_override": {"image": image.image_address},
        }
        if image.versions:
            default_version = _default_version(image)
            profile["profile_options"] = {"version": {"display_name": "Version", "choices": {
                version.version: {
                    "display_name": escape(version.version),
                    "default": version is default_version,
                    "kubespawner_override": {"image": version.image_address},
                }
                for version in image.versions
            }}}
        profiles.append(profile)
    return profiles


SHAPES = {
    "kubeflow": (kubeflow_options, KubeflowFeedSchema()),
    "jupyterhub": (jupyterhub_profiles, JupyterHubProfileSchema(many=True)),
}


@blp.route("", parameters=[IF_NONE_MATCH_PARAMETER])
class Feed(MethodView):
    @auth.login_required(role="reader")
    @blp.arguments(FeedArgsSchema, location="query")
    @blp.response(200, FeedSchema)
    @blp.alt_response(304, response=not_modified())
    @blp.doc(operationId="getFeed", responses={"200": FEED_200})
    def get(self, args):
        """The online images of a scope, newest first, with their versions

        Role: reader. format=json (the envelope, as the list endpoint), kubeflow (the
        spawnerFormDefaults.image block of Kubeflow's spawner_ui_config.yaml, to merge into it) or
        jupyterhub (KubeSpawner's profile_list), both unwrapped. The ETag moves with every write to
        the catalog, so polling with If-None-Match (304 while it holds) costs one small query while
        nothing changes.
        """
        query = "&".join(f"{key}={value}" for key, value in sorted(args.items()))
        state = g.catalog_state  # read with the token (auth.verify_token)
        etag = f"{state.generation}-{hashlib.sha256(query.encode()).hexdigest()[:16]}"
        headers = {"ETag": f'"{etag}"'}
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        images = catalog.feed(state, args.get("applicable_scope"), args["limit"])
        if args["format"] in SHAPES:  # spawners read these as they are: no envelope
            shape, schema = SHAPES[args["format"]]
            response = jsonify(schema.dump(shape(images, args.get("default_image_id"))))
            response.headers.update(headers)
            return response
        return {"list": images, "total": len(images)}, 200, headers
