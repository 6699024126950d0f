"""The Dash index per path: 404 for unknown pages, only declared bundles; frame-ancestors; the API docs page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.frame_policy import frame_ancestors, valid_sources
from api.page_routes import page_for_path, strip_bundles
from app import create_app
from settings import load_settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = load_settings({"TICKSTREAM_EMBED_ORIGINS": "https://portal.example http://127.0.0.1:9 bad;x"},
                             data_dir=str(tmp_path_factory.mktemp("pages")), symbols="AAPL")
    app = create_app(settings, start_feed=False)
    yield app.server.test_client()


KNOWN = ["/", "/signals", "/options/AAPL", "/options/GC=F", "/portfolio", "/alerts", "/status", "/chart/AAPL",
         "/embed/chart/AAPL", "/embed/watchlist", "/signals/"]
UNKNOWN = ["/nope", "/signals/extra", "/chart/", "/options", "/embed/", "/not-found-404", "/chart/AAPL/more"]


@pytest.mark.parametrize("path", KNOWN)
def test_known_pages_answer_200(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_pages_answer_404_with_the_app(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, path
    # The app's own page (its renderer shows the not-found layout), not a bare error.
    assert response.mimetype == "text/html"
    assert "_dash-config" in response.get_data(as_text=True)


def test_api_paths_keep_their_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/nope")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("path", "bundles"), [
    ("/signals", {"dash_ag_grid", "dash_mantine_components"}),
    ("/options/AAPL", {"dash_ag_grid", "dash_mantine_components"}),
    ("/portfolio", {"dash_ag_grid", "dash_mantine_components"}),
    ("/alerts", {"dash_ag_grid", "dash_mantine_components"}),
    ("/", set()),
    ("/status", set()),
    ("/chart/AAPL", set()),
    ("/embed/chart/AAPL", set()),
    ("/embed/watchlist", set()),
    ("/nope", set()),
])
def test_each_page_loads_only_the_bundles_it_declares(client: FlaskClient, path: str, bundles: set[str]) -> None:
    html = client.get(path).get_data(as_text=True)
    loaded = {name for name in ("dash_ag_grid", "dash_mantine_components")
              if f"/_dash-component-suites/{name}/" in html}
    assert loaded == bundles
    assert "/_dash-component-suites/dash/dcc/" in html  # the core components stay


def test_page_for_path_and_strip_bundles_pure() -> None:
    pages: list[dict[str, Any]] = [{"module": "pages.options", "path": "/options/<symbol>",
                                    "path_template": "/options/<symbol>"}]
    assert page_for_path("/options/BRK.B", pages) is pages[0]
    assert page_for_path("/options", pages) is None
    html = ('<script src="/_dash-component-suites/dash_mantine_components/a.js"></script>\n'
            '<script src="/_dash-component-suites/dash_ag_grid/b.js"></script>\n')
    kept = strip_bundles(html, ("dash_ag_grid",))
    assert kept == '<script src="/_dash-component-suites/dash_ag_grid/b.js"></script>\n'
    assert strip_bundles(html, ("dash_ag_grid", "dash_mantine_components")) == html


@pytest.mark.parametrize(("path", "expected"), [
    ("/embed/chart/AAPL", "frame-ancestors 'self' https://portal.example http://127.0.0.1:9"),
    ("/embed/watchlist", "frame-ancestors 'self' https://portal.example http://127.0.0.1:9"),
    ("/", "frame-ancestors 'self'"),
    ("/signals", "frame-ancestors 'self'"),
    ("/api/v1/openapi.json", "frame-ancestors 'self'"),
])
def test_frame_ancestors_header(client: FlaskClient, path: str, expected: str) -> None:
    # The policy has other directives too (api/security.py); frame-ancestors appears once, as the embed settings say.
    directives = [d.strip() for d in client.get(path).headers["Content-Security-Policy"].split(";")]
    assert [d for d in directives if d.startswith("frame-ancestors")] == [expected]


def test_frame_ancestors_default_and_sanitising() -> None:
    assert frame_ancestors("/embed/watchlist", ()) == "frame-ancestors 'self'"
    assert valid_sources(["*", "https:", "https://*.corp.example", "https://a.example/path", "'unsafe-inline'",
                          "https://x.example, https://y.example"]) == ["*", "https:", "https://*.corp.example"]


def test_api_docs_served_offline(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http" not in html.replace("http-equiv", "")  # nothing from another host
    for asset in ("/api/docs/swagger-ui.css", "/api/docs/swagger-ui-bundle.js", "/api/docs/init.js"):
        assert asset in html
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 100, asset
    assert "/api/v1/openapi.json" in client.get("/api/docs/init.js").get_data(as_text=True)
    assert client.get("/api/docs/index.j2").status_code == 404
    assert client.get("/api/docs/../settings.py").status_code == 404

