"""/api/catalog: the whole catalog as a file, out and in."""

from flask.views import MethodView

from .. import catalog
from ..api import Blueprint
from ..auth import auth, current_actor
from ..schemas import CatalogExportSchema, CatalogSchema, ExportArgsSchema, ImportArgsSchema, ImportResultSchema

blp = Blueprint("catalog", __name__, url_prefix="/api/catalog",
                description="Import and export the catalog as a file.")


@blp.route("/export")
class Export(MethodView):
    @auth.login_required(role="reader")
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, CatalogExportSchema)
    @blp.doc(operationId="exportCatalog")
    def get(self, args):
        """Every matching image with its versions, as a catalog file

        Role: reader. `data` is the file `imagesvc catalog import` and POST /api/catalog/import take.
        """
        return CatalogSchema.document(catalog.export_catalog(**args))


@blp.route("/import")
class Import(MethodView):
    @auth.login_required(role="admin")
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.arguments(CatalogSchema)
    @blp.response(200, ImportResultSchema, message="导入完成")
    @blp.doc(operationId="importCatalog")
    def post(self, args, document):
        """Upsert a catalog file by imageId, in one transaction

        Role: admin. Every entry is validated first (nothing is written if one is bad); then new
        images are created, changed ones updated, new versions added, identical ones left alone;
        with prune=true images missing from the file are deleted; dryRun=true only counts.
        """
        return catalog.import_catalog(document["images"], actor=current_actor(), **args)
