"""Swagger UI assets served locally (the pages must work without network access)."""

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, send_from_directory

bp = Blueprint("docs_assets", __name__)
_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)


@bp.get("/api/docs/assets/<path:filename>")
def asset(filename: str):
    return send_from_directory(_ASSETS, filename, max_age=86400)
