"""The accreditation routes' OpenAPI paths: a valid document that lists every route."""

from __future__ import annotations

from openapi_spec_validator import validate

from registry.openapi_accreditation import PATHS, document


def test_the_accreditation_paths_make_a_valid_openapi_document(app) -> None:
    validate(document())


def test_every_accreditation_route_is_described(app) -> None:
    routes = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("registry_accreditation.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, operations in PATHS.items() for method in operations}
    assert routes == described
