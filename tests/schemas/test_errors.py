"""The one HTTP error base, the mapping of domain errors, the 500 with an id, and the tree."""

from __future__ import annotations

import logging

import pytest

from devstack.errors import DevstackError
from devstack.kafka import KafkaStartError
from national_hub import errors as hub
from national_hub.sync.node_client import NodeUnreachable
from province_node import errors as node
from province_node.publisher import PublishError
from schemas.errors import (
    HttpError,
    KeyFileError,
    RegsyncError,
    SchemaError,
    internal_error,
    map_domain_error,
)
from schemas.federation import ConfigError


class Teapot(HttpError):
    status = 418
    code = "teapot"


class Domain(RegsyncError):
    """A domain error of the tests."""


class SubDomain(Domain):
    """A subclass of one, not listed in a table itself."""


# -- HttpError -----------------------------------------------------------------------------------


def test_body_is_the_one_error_document() -> None:
    exc = Teapot("short and stout", [{"field": "spout", "message": "too short"}])
    assert exc.body() == {
        "error": {
            "code": "teapot",
            "message": "short and stout",
            "details": [{"field": "spout", "message": "too short"}],
        }
    }


def test_details_default_to_an_empty_list() -> None:
    assert Teapot("no details").body()["error"]["details"] == []


def test_extra_members_sit_beside_error() -> None:
    body = Teapot("gone", extra={"explanation": {"state": "unknown"}}).body()
    assert list(body) == ["error", "explanation"]


def test_the_subclass_gives_status_and_code() -> None:
    exc = Teapot("x")
    assert (exc.status, exc.code) == (418, "teapot")


def test_an_instance_may_override_the_code() -> None:
    exc = Teapot("x", code="not_ready")
    assert (exc.status, exc.code, Teapot.code) == (418, "not_ready", "teapot")


def test_an_instance_may_override_the_status() -> None:
    assert HttpError("x", status=503).status == 503


def test_headers_are_kept() -> None:
    assert Teapot("x", headers={"Retry-After": "3"}).headers == {"Retry-After": "3"}


def test_for_field_names_the_field_in_message_and_details() -> None:
    exc = Teapot.for_field("cert_no", "must be 15 digits")
    assert (exc.message, exc.details) == (
        "cert_no: must be 15 digits",
        [{"field": "cert_no", "message": "must be 15 digits"}],
    )


def test_the_message_is_the_exception_text() -> None:
    assert str(Teapot("short and stout")) == "short and stout"


# -- map_domain_error ----------------------------------------------------------------------------


def test_a_listed_domain_error_gets_its_status_and_code() -> None:
    mapped = map_domain_error(Domain("the store is closed"), {Domain: (503, "store_unavailable")})
    assert mapped is not None
    assert mapped.body() == {
        "error": {"code": "store_unavailable", "message": "the store is closed", "details": []}
    }
    assert mapped.status == 503


def test_a_subclass_is_answered_as_its_nearest_listed_base() -> None:
    table = {RegsyncError: (500, "far"), Domain: (503, "near")}
    mapped = map_domain_error(SubDomain("x"), table)
    assert mapped is not None and mapped.code == "near"


def test_an_unlisted_domain_error_maps_to_none() -> None:
    assert map_domain_error(Domain("x"), {ConfigError: (400, "config")}) is None


def test_a_schema_error_keeps_its_details() -> None:
    exc = SchemaError("cert_no: bad", [{"field": "cert_no", "message": "bad"}])
    mapped = map_domain_error(exc, {SchemaError: (400, "invalid_request")})
    assert mapped is not None and mapped.details == [{"field": "cert_no", "message": "bad"}]


# -- internal_error ------------------------------------------------------------------------------


def _internal(caplog: pytest.LogCaptureFixture) -> HttpError:
    logger = logging.getLogger("tests.internal")
    with caplog.at_level(logging.ERROR, logger="tests.internal"):
        try:
            raise RuntimeError("secret internals")
        except RuntimeError:
            return internal_error(logger, "GET /boom", "hub")


def test_internal_error_is_a_500_internal(caplog: pytest.LogCaptureFixture) -> None:
    exc = _internal(caplog)
    assert (exc.status, exc.code) == (500, "internal")


def test_internal_error_does_not_show_the_failure(caplog: pytest.LogCaptureFixture) -> None:
    assert "secret internals" not in str(_internal(caplog).body())


def test_internal_error_id_is_logged_with_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    exc = _internal(caplog)
    error_id = exc.message.rsplit(" ", 1)[-1]
    [record] = caplog.records
    assert error_id in record.getMessage() and "GET /boom" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_each_internal_error_has_its_own_id(caplog: pytest.LogCaptureFixture) -> None:
    assert _internal(caplog).message != _internal(caplog).message


# -- the tree ------------------------------------------------------------------------------------

DOMAIN_ERRORS = [
    KeyFileError,
    SchemaError,
    ConfigError,
    hub.StoreError,
    hub.IngestError,
    hub.Overloaded,
    NodeUnreachable,
    PublishError,
    node.ImportFileError,
    DevstackError,
    KafkaStartError,
]


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_a_domain_error_is_under_the_root_and_carries_no_status(cls: type[Exception]) -> None:
    assert issubclass(cls, RegsyncError) and not issubclass(cls, HttpError)


@pytest.mark.parametrize("base", [hub.HubError, node.NodeError], ids=lambda c: c.__name__)
def test_both_services_http_errors_share_the_one_base(base: type[Exception]) -> None:
    assert issubclass(base, HttpError)
