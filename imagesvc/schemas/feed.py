"""The spawner feed: its query, the feed as JSON, and the unwrapped shapes JupyterHub's
KubeSpawner and Kubeflow read, in the spawners' own field names."""

from marshmallow import fields, validate

from .base import AnswerSchema, QuerySchema, ResponseSchema
from .fields import LABEL_MAX_LENGTH, Enum, Text
from .images import ImageSummarySchema
from .rules import image_id_asked
from .versions import VersionSchema

# The most images a feed holds, and how many it holds unless asked for fewer.
FEED_LIMIT_MAX = 1000


class FeedArgsSchema(QuerySchema):
    applicable_scope = Text(max_length=LABEL_MAX_LENGTH, metadata={"description": "Only images for this scope."})
    format = Enum("FeedFormat", load_default="json", metadata={
        "description": "json: the envelope, as the list. jupyterhub: KubeSpawner's profile_list. kubeflow: the "
                       "spawnerFormDefaults.image block of Kubeflow's spawner_ui_config.yaml. Both unwrapped."})
    default = image_id_asked(attribute="default_image_id", metadata={
        "description": "The imageId of the image spawners offer first (jupyterhub: its profile has default "
                       "true; kubeflow: its address is the value). Absent or not in the feed: none is marked, "
                       "and kubeflow's value is the first option."})
    limit = fields.Integer(load_default=FEED_LIMIT_MAX, validate=validate.Range(min=1, max=FEED_LIMIT_MAX))


class FeedImageSchema(ImageSummarySchema):
    versions = fields.List(fields.Nested(VersionSchema), metadata={"description": "Newest first."})


class FeedSchema(ResponseSchema):
    list = fields.List(fields.Nested(FeedImageSchema))
    total = fields.Integer()


class KubeSpawnerOverrideSchema(ResponseSchema):
    image = fields.String()


class JupyterHubChoiceSchema(AnswerSchema):
    display_name = fields.String(metadata={"description": "The version's name, HTML-escaped."})
    default = fields.Boolean()
    kubespawner_override = fields.Nested(KubeSpawnerOverrideSchema)


class JupyterHubOptionSchema(AnswerSchema):
    display_name = fields.String()
    choices = fields.Dict(keys=fields.String(), values=fields.Nested(JupyterHubChoiceSchema),
                          metadata={"description": "By version name, exactly as in the catalog."})


class JupyterHubProfileSchema(AnswerSchema):
    """One image as a KubeSpawner profile. KubeSpawner renders display_name and description as
    HTML, so they come HTML-escaped."""

    OPTIONAL = ("profile_options",)

    display_name = fields.String()
    slug = fields.String(metadata={"description": "The imageId, lowercased."})
    description = fields.String()
    default = fields.Boolean()
    kubespawner_override = fields.Nested(KubeSpawnerOverrideSchema)
    profile_options = fields.Dict(keys=fields.String(), values=fields.Nested(JupyterHubOptionSchema),
                                  metadata={"description": "`version`, when the image has versions."})


class KubeflowImageSchema(ResponseSchema):
    value = fields.String(metadata={"description": "The address offered first."})
    options = fields.List(fields.String(), metadata={"description": "Each image's address, then its versions'."})
    read_only = fields.Boolean()


class KubeflowFormDefaultsSchema(ResponseSchema):
    image = fields.Nested(KubeflowImageSchema)


class KubeflowFeedSchema(ResponseSchema):
    """The block of Kubeflow's spawner_ui_config.yaml to merge into its spawnerFormDefaults."""

    spawner_form_defaults = fields.Nested(KubeflowFormDefaultsSchema)
