"""/api/docs: Swagger UI for /api/v1/openapi.json, its files served from the Swagger UI 5 distribution that the
flask-swagger-ui package ships (no CDN: the documentation works offline; Swagger UI 4 cannot read OpenAPI 3.1)."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, abort, send_from_directory

from api.rest import get_route

# The only files of the bundle the page loads (nothing else of the package directory is served).
ASSET_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                         "favicon-32x32.png", "favicon-16x16.png"})
SPEC_URL = "/api/v1/openapi.json"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API · Tickstream</title>
<link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png">
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
<style>body { margin: 0; } .topbar { display: none; }</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/swagger-ui-standalone-preset.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
"""

# Kept out of the page (a separate file) so that a strict Content-Security-Policy without inline scripts allows it.
_INIT = f"""window.addEventListener("load", function () {{
    window.ui = SwaggerUIBundle({{
        url: {SPEC_URL!r}, dom_id: "#swagger-ui", deepLinking: true, layout: "BaseLayout",
        presets: [SwaggerUIBundle.presets.apis], validatorUrl: null, tryItOutEnabled: false,
    }});
}});
"""


def create_api_docs_blueprint() -> Blueprint:
    docs = Blueprint("tickstream_api_docs", __name__)
    folder = Path(flask_swagger_ui.__file__).resolve().parent / "dist"

    @get_route(docs, "/api/docs")
    def page() -> Response:
        return Response(_PAGE, mimetype="text/html")

    # A path rule: the page's files are not REST routes (the OpenAPI document lists those).
    @docs.route("/api/docs/<path:name>")
    def asset(name: str) -> Response:
        if name == "init.js":
            return Response(_INIT, mimetype="text/javascript")
        if name not in ASSET_FILES:
            abort(404)
        return send_from_directory(folder, name, max_age=86400)

    return docs
