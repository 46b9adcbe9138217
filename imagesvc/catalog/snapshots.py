"""What the change log keeps of an image or a version, and what changed between two of them.

A snapshot is the content as the API names it (camelCase, in the order of a create body or a
catalog file entry, times as ``…Z``). It is built here, not dumped by a request schema, so the
stored history and its answers stay as they are when a request schema changes.
"""

from ..schemas.fields import TIME_FORMAT


def image_content(image):
    """The image's content, its versions aside: what a history entry holds of it."""
    return {
        "name": image.name,
        "imageId": image.external_id,
        "frameworks": list(image.frameworks),
        "applicableScopes": list(image.applicable_scopes),
        "chipType": image.chip_type,
        "presetCuda": image.preset_cuda,
        "description": image.description,
        "imageAddress": image.image_address,
        "status": image.status,
        "type": image.type,
        "icon": image.icon,
        "introduction": image.introduction,
        "paperUrl": image.paper_url,
        "codeUrl": image.code_url,
        "license": image.license,
    }


def version_content(version):
    """The version's content: what a history entry holds of it."""
    return {
        "version": version.version,
        "imageAddress": version.image_address,
        "size": version.size,
        "pythonVersion": version.python_version,
        "cudaVersion": version.cuda_version,
        "description": version.description,
        "architectures": list(version.architectures),
        "createTime": version.create_time.strftime(TIME_FORMAT),
    }


def changed(before, after):
    """The fields that differ, as (before, after) dicts holding only those fields."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}
