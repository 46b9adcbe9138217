"""Property-based contract testing: Schemathesis drives the API from its own OpenAPI document.

Stateless: every operation of /api/openapi.json gets generated requests, schema-valid and
schema-violating, through the app in-process (WSGI) with an editor token, and every answer is
checked: no 5xx, status codes, bodies, headers and content types as documented, schema-violating
input refused, the token not ignored, methods and Allow as documented.

Stateful: chains of calls along OpenAPI links (create an image, then read, update, flip, delete
it, add, read and delete its versions, read its history), on a copy of the document that also
carries the contract's text rules, so that valid requests really are valid: each must then be
accepted, and every answer be as documented.

The document lacks the contract's text rules (trimming, control characters): the stateful run
adds them to its own copy, so that its valid requests really are valid.

The CI run is bounded and reproducible: a fixed seed and a fixed number of examples.
``make fuzz`` runs the same tests longer (``IMAGESVC_FUZZ_EXAMPLES``, ``IMAGESVC_FUZZ_SEED``).
"""
import collections
import copy
import os

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance, use_after_free

from imagesvc.db import db
from imagesvc.models import CatalogState, Change, Image, ImageLabel, Version, VersionArchitecture

from .conftest import load_openapi_document

# CI: a few examples per operation and mode; `make fuzz` raises these.
MAX_EXAMPLES = int(os.environ.get("IMAGESVC_FUZZ_EXAMPLES", "10"))
STATEFUL_EXAMPLES = int(os.environ.get("IMAGESVC_FUZZ_STATEFUL_EXAMPLES", str(max(MAX_EXAMPLES + 2, 24))))
STATEFUL_STEPS = int(os.environ.get("IMAGESVC_FUZZ_STATEFUL_STEPS", "10"))
SEED = int(os.environ.get("IMAGESVC_FUZZ_SEED", "20250115"))

# Cases run, by backend and operation (reported at the end of the session).
CASES = collections.Counter()


def pointer(path, method):
    """An ``operationRef`` to ``method`` on ``path`` (a JSON pointer into this document)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


IMAGE = "/api/images/{id}"
IMAGE_ID = {"id": "$response.body#/data/id"}
SAME_IMAGE_AND_VERSION = {"id": "$request.path.id", "version": "$response.body#/data/version"}
# What the document should declare (see the report): a created image leads to its detail, update,
# status, deletion and versions; a created version to itself and its deletion.
LINKS = {
    ("/api/images", "post", "201"): {
        "GetImage": {"operationRef": pointer(IMAGE, "get"), "parameters": IMAGE_ID},
        "UpdateImage": {"operationRef": pointer(IMAGE, "put"), "parameters": IMAGE_ID},
        "SetImageStatus": {"operationRef": pointer(IMAGE + "/status", "put"), "parameters": IMAGE_ID},
        "DeleteImage": {"operationRef": pointer(IMAGE, "delete"), "parameters": IMAGE_ID},
        "ListVersions": {"operationRef": pointer(IMAGE + "/versions", "get"), "parameters": IMAGE_ID},
        "CreateVersion": {"operationRef": pointer(IMAGE + "/versions", "post"), "parameters": IMAGE_ID},
        "GetImageHistory": {"operationRef": pointer(IMAGE + "/history", "get"), "parameters": IMAGE_ID},
    },
    (IMAGE + "/versions", "post", "201"): {
        "GetVersion": {"operationRef": pointer(IMAGE + "/versions/{version}", "get"),
                       "parameters": SAME_IMAGE_AND_VERSION},
        "DeleteVersion": {"operationRef": pointer(IMAGE + "/versions/{version}", "delete"),
                          "parameters": SAME_IMAGE_AND_VERSION},
        "ListVersions": {"operationRef": pointer(IMAGE + "/versions", "get"),
                         "parameters": {"id": "$request.path.id"}},
    },
}


def operations_of(document):
    """Every operation of ``document``, as (label, operation)."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield f"{method.upper()} {path}", operation


def not_modified_responses(document):
    """Every documented 304 response, as (label, response)."""
    for label, operation in operations_of(document):
        if "304" in operation.get("responses", {}):
            yield label, operation["responses"]["304"]


def for_testing(document):
    """A copy of ``document`` with ``LINKS`` added (by operationRef, which Schemathesis follows)."""
    document = copy.deepcopy(document)
    for (path, method, status), links in LINKS.items():
        response = document["paths"][path][method]["responses"][status]
        response.setdefault("links", {}).update(links)
    return document

# The contract's text rules as JSON Schema, each a strict subset of what the service accepts
# (trimmed, no control or invisible characters, the documented patterns). The document declares
# the lengths and a few patterns (test_document_declares_the_contracts_lengths_and_patterns_of_text_fields)
# but not the character rules, so schema-valid data is mostly refused; the stateful run adds them
# to its copy, so that creations succeed and the sequences go deep.
_INVISIBLE = r"\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
LINE = rf"^[^\s{_INVISIBLE}](?:[^{_INVISIBLE}]*[^\s{_INVISIBLE}])?$"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
IMAGE_REFERENCE = (r"^(?:[a-z0-9]+(?:\.[a-z0-9]+)*(?::[0-9]{1,5})?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*"
                   r"(?:/[a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,30})?$")
URL = r"^https?://[a-z][a-z0-9]{0,20}(?:\.[a-z][a-z0-9]{0,20}){0,3}\.[a-z]{2,6}(?:/[A-Za-z0-9._~-]+)*$"
DOTTED = r"^[0-9]{1,4}(?:\.[0-9]{1,4}){0,2}$"
CONTRACT_RULES = {
    "name": {"minLength": 1, "maxLength": 128, "pattern": LINE},
    "imageId": {"minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
    "frameworks": {"items": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": LINE}},
    "applicableScopes": {"items": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": LINE}},
    "description": {"maxLength": 2000, "pattern": TEXT},
    "imageAddress": {"minLength": 1, "maxLength": 512, "pattern": IMAGE_REFERENCE},
    "icon": {"maxLength": 512, "pattern": LINE},
    "introduction": {"maxLength": 20000, "pattern": TEXT},
    "paperUrl": {"maxLength": 2048, "pattern": URL},
    "codeUrl": {"maxLength": 2048, "pattern": URL},
    "license": {"maxLength": 128, "pattern": LINE},
    "version": {"minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9][A-Za-z0-9._+-]*$"},
    "size": {"pattern": r"^[0-9]{1,6}(?:\.[0-9]{1,3})? ?(?:B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|gb|mib)$"},
    "pythonVersion": {"pattern": DOTTED},
    "cudaVersion": {"pattern": DOTTED},
    # 1970-9999 only; the document says just date-time
    "createTime": {"format": None, "pattern": "^20[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T"
                                              "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"},
}
CONTRACT_QUERY_RULES = {
    "name": {"maxLength": 128, "pattern": LINE},
    "framework": {"maxLength": 64, "pattern": LINE},
    "applicableScope": {"maxLength": 64, "pattern": LINE},
    "pythonVersion": {"pattern": DOTTED},
    "cudaVersion": {"pattern": DOTTED},
    "imageId": {"maxLength": 128, "pattern": LINE},
    "tokenName": {"maxLength": 64, "pattern": LINE},
    "since": CONTRACT_RULES["createTime"],
}


# The request bodies the rules apply to.
REQUEST_SCHEMAS = ("ImageCreate", "ImageUpdate", "VersionCreate", "CatalogImage")


def _tighten(schema, rules):
    for key, value in rules.items():
        if value is None:
            schema.pop(key, None)
        else:
            schema[key] = value


def with_contract_rules(document):
    """``document`` with CONTRACT_RULES on every body property and query parameter they name."""
    # PUT /api/images/{id}: "any non-empty subset"
    document["components"]["schemas"]["ImageUpdate"]["minProperties"] = 1
    for component in REQUEST_SCHEMAS:  # never the answers: they must keep their own rules
        for name, prop in document["components"]["schemas"][component]["properties"].items():
            if name in CONTRACT_RULES and prop.get("type") in ("string", "array"):
                _tighten(prop, CONTRACT_RULES[name])
    for operations in document["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            # A made-up If-Match is rightly a 412: the stateless run covers it.
            operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "If-Match"]
            for parameter in operation["parameters"]:
                if parameter.get("in") == "query" and parameter["name"] in CONTRACT_QUERY_RULES:
                    _tighten(parameter["schema"], CONTRACT_QUERY_RULES[parameter["name"]])
    return document


DOCUMENT = load_openapi_document()


def configure(schema):
    """Seeded, bounded generation of valid and invalid requests, authenticated as an editor."""
    schema.config.seed = SEED
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        # The contract: unknown query parameters are ignored, so an extra one is not "invalid".
        allow_extra_parameters=False,
        database="none",  # nothing written to .hypothesis/ in the work tree
    )
    # The token of the running test: a provider (not a fixed header) so that the negative cases
    # which leave the Authorization header out really go without it.
    schema.auth(refresh_interval=None)(EditorToken)
    return schema


class EditorToken:
    """Schemathesis auth provider: the editor token minted for the current test."""

    current = None

    def get(self, case, context):
        return EditorToken.current

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


class CurrentApp:
    """The WSGI app of the running test (each test has its own, on its own database)."""

    app = None

    def __call__(self, environ, start_response):
        return CurrentApp.app(environ, start_response)


schema = configure(schemathesis.openapi.from_dict(for_testing(DOCUMENT)))
# Every request Schemathesis sends, its checks' follow-up requests included, goes in-process.
schema.app = CurrentApp()


@pytest.fixture
def current_app(app):
    CurrentApp.app = app
    yield app
    CurrentApp.app = None


def empty_catalog(app):
    """Delete every image, version and change (tokens stay); the generation moves on, as a write's does."""
    with app.app_context():
        for model in (VersionArchitecture, Version, ImageLabel, Image, Change):
            model.delete().execute()
        CatalogState.update(generation=CatalogState.generation + 1, image_count=0).execute()
        db.close()


@pytest.fixture
def editor_token(auth_headers):
    EditorToken.current = auth_headers("editor")["Authorization"].removeprefix("Bearer ")
    yield EditorToken.current
    EditorToken.current = None


@pytest.fixture(autouse=True)
def report_cases(request):
    """Adds this module's case counts to the end-of-session summary, once."""
    config = request.config
    if not config.pluginmanager.has_plugin("imagesvc-schemathesis-cases"):
        config.pluginmanager.register(CaseReport(), "imagesvc-schemathesis-cases")


class CaseReport:
    @staticmethod
    def pytest_terminal_summary(terminalreporter):
        if not CASES:
            return
        terminalreporter.section("schemathesis")
        by_backend = collections.Counter()
        for (backend, kind, _), count in CASES.items():
            by_backend[backend, kind] += count
        terminalreporter.write_line(
            f"schemathesis cases (seed {SEED}, max examples {MAX_EXAMPLES}): " + ", ".join(
                f"{backend} {kind} {count}" for (backend, kind), count in sorted(by_backend.items())))


def excluded_checks(operation, positive_data=False):
    """Checks that cannot hold for this document, each for a reason reported as a finding.

    - positive_data_acceptance: the document declares none of the trimming and
      control-character rules of the text fields, so "schema-valid" data such as a blank name
      is rightly refused with 422.
    """
    checks = [] if positive_data else [positive_data_acceptance]
    if operation.path == "/api/images/{id}/history":
        checks.append(use_after_free)  # by design: an image's history outlives the image
    return checks


@schema.parametrize()
@hypothesis.settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                     deadline=None)
def test_every_operation_keeps_its_documented_contract(case, current_app, backend, editor_token):
    CASES[backend, "stateless", case.operation.label] += 1
    case.call_and_validate(excluded_checks=excluded_checks(case.operation))


def test_stateful_sequences_along_links_keep_the_contract(current_app, backend, editor_token):
    """Chains of calls along the links, with data valid under the contract's rules: every
    response as documented, and every valid request accepted."""
    stateful = configure(schemathesis.openapi.from_dict(with_contract_rules(for_testing(DOCUMENT))))
    stateful.config.generation.update(modes=[GenerationMode.POSITIVE])
    # Only the declared links: Schemathesis's own guess binds the path's id to the body's
    # imageId (the slug), which is not the id.
    stateful.config.phases.stateful.inference.algorithms = []
    stateful.app = CurrentApp()
    answered = collections.Counter()

    class Machine(stateful.as_state_machine()):
        def setup(self):
            # Each scenario starts from an empty catalog, so that Hypothesis can replay it.
            empty_catalog(current_app)

        def after_call(self, response, case):
            CASES[backend, "stateful", case.operation.label] += 1
            answered[case.operation.label, response.status_code] += 1
            super().after_call(response, case)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, additional_checks=additional_checks,
                                   excluded_checks=excluded_checks(case.operation, positive_data=True),
                                   transport_kwargs=kwargs or None, recorder=self.recorder)

    hypothesis.seed(SEED)(Machine)
    Machine.run(settings=hypothesis.settings(
        max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    # The sequences went deep: images were created, then found, changed and given versions by id.
    for step in [("POST /api/images", 201), ("GET /api/images/{id}", 200),
                 ("PUT /api/images/{id}/status", 200), ("POST /api/images/{id}/versions", 201)]:
        assert answered[step], f"no {step} in {sorted(answered.items())}"


# ----- findings, pinned down -----

def test_document_links_a_created_image_to_its_operations():
    """The document itself should carry the links the stateful run needs (the test adds them)."""
    links = DOCUMENT["paths"]["/api/images"]["post"]["responses"]["201"].get("links", {})
    assert {"GetImage", "UpdateImage", "SetImageStatus", "DeleteImage", "ListVersions"} <= set(links)


# What the document must declare of these fields, as the contract says (``...``: a pattern, whichever).
TEXT_RULES = {
    "ImageCreate.name": {"minLength": 1, "maxLength": 128},
    "ImageCreate.imageId": {"minLength": 1, "maxLength": 128, "pattern": ...},
    # The reference grammar is in the description: as a pattern it is beyond Schemathesis's generator.
    "ImageCreate.imageAddress": {"minLength": 1, "maxLength": 512},
    "VersionCreate.version": {"minLength": 1, "maxLength": 64, "pattern": ...},
}


@pytest.mark.parametrize("field", TEXT_RULES)
def test_document_declares_the_contracts_lengths_and_patterns_of_text_fields(field):
    component, name = field.split(".")
    declared = DOCUMENT["components"]["schemas"][component]["properties"][name]
    for keyword, value in TEXT_RULES[field].items():
        assert keyword in declared, f"{field} declares no {keyword}: {declared}"
        assert value is ... or declared[keyword] == value


def test_document_says_304_has_no_body():
    with_body = [label for label, response in not_modified_responses(DOCUMENT) if "content" in response]
    assert with_body == []


@pytest.mark.sqlite_only
def test_options_on_the_feed_allows_only_get(client, backend):
    allowed = {method.strip() for method in client.options("/api/images/feed").headers["Allow"].split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS"}


def test_document_describes_the_feed_parameters_and_its_three_shapes():
    path = DOCUMENT["paths"]["/api/images/feed"]
    feed = path["get"]
    parameters = {p["name"] for p in path.get("parameters", []) + feed["parameters"]}
    assert parameters >= {"applicableScope", "format", "default", "limit", "If-None-Match"}
    shapes = feed["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    assert shapes == [{"$ref": "#/components/schemas/FeedEnvelope"}, {"$ref": "#/components/schemas/KubeflowFeed"},
                      {"type": "array", "items": {"$ref": "#/components/schemas/JupyterHubProfile"}}]


def test_document_says_an_empty_query_value_is_not_given():
    undeclared = [f"{label} {p['name']}" for label, operation in operations_of(DOCUMENT)
                  for p in operation.get("parameters", []) if p.get("in") == "query" and not p.get("allowEmptyValue")]
    assert undeclared == []
