"""/api/images/feed: the online images of a scope, for notebook spawners that poll."""

import hashlib

from flask import Response, jsonify, request
from flask.views import MethodView

from .. import catalog
from ..api import Blueprint, not_modified
from ..auth import auth
from ..schemas import FeedArgsSchema, FeedSchema

blp = Blueprint("feed", __name__, url_prefix="/api/images/feed",
                description="The spawner feed: online images of a scope (beyond).")

def kubeflow_options(images):
    """Kubeflow's notebook spawner: ``spawnerFormDefaults.image`` with a default and options."""
    addresses = list(dict.fromkeys(
        address for image in images for address in [image.image_address, *(v.image_address for v in image.versions)]
    ))
    return {"spawnerFormDefaults": {"image": {"value": addresses[0] if addresses else None, "options": addresses}}}


def jupyterhub_profiles(images):
    """JupyterHub KubeSpawner's ``profile_list``: one profile per image, its versions as choices."""
    profiles = []
    for position, image in enumerate(images):
        profile = {
            "display_name": image.name,
            "slug": image.external_id.lower(),
            "description": image.description,
            "default": position == 0,
            "kubespawner_override": {"image": image.image_address},
        }
        if image.versions:
            profile["profile_options"] = {"version": {"display_name": "Version", "choices": {
                version.version.lower(): {
                    "display_name": version.version,
                    "default": index == 0,
                    "kubespawner_override": {"image": version.image_address},
                }
                for index, version in enumerate(image.versions)
            }}}
        profiles.append(profile)
    return profiles


@blp.route("")
class Feed(MethodView):
    @auth.login_required(role="reader")
    @blp.arguments(FeedArgsSchema, location="query")
    @blp.response(200, FeedSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(304, response=not_modified())
    def get(self, args):
        """The online images of a scope, newest first, with their versions

        Role: reader. format=json (the envelope, as the list endpoint), kubeflow (Kubeflow
        notebook spawner image options) or jupyterhub (KubeSpawner profile_list), both unwrapped.
        The ETag moves with every write to the catalog, so polling with If-None-Match (304 while
        it holds) costs one small query while nothing changes.
        """
        query = "&".join(f"{key}={value}" for key, value in sorted(args.items()))
        etag = f"{catalog.generation()}-{hashlib.sha256(query.encode()).hexdigest()[:16]}"
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers={"ETag": f'"{etag}"'})
        images = catalog.feed(args.get("applicable_scope"), args["limit"])
        headers = {"ETag": f'"{etag}"'}
        shapes = {"kubeflow": kubeflow_options, "jupyterhub": jupyterhub_profiles}
        if args["format"] in shapes:  # spawners read these as they are: no envelope
            response = jsonify(shapes[args["format"]](images))
            response.headers.update(headers)
            return response
        return {"list": images, "total": len(images)}, 200, headers
