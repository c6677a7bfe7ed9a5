"""Open311 GeoReport v2 over the published duty list: service discovery, the service list and service
definitions (http://wiki.open311.org/GeoReport_v2, http://wiki.open311.org/Service_Discovery).

Every duty in force is one Open311 *service*: hotline systems and portals that already speak GeoReport v2
can list what the district answers for, grouped by category, without learning our REST API.

**service_code is always ``<list code>:<duty code>``** (``livelihood:03-12-0001``), whether or not the
request narrows the list with ``?list=``. Duty codes are unique only within a list, so a plain duty code
cannot name a service once two lists are published; and a code that changed with a filter parameter would
break what GeoReport clients do with it — cache the service list, fetch ``services/<code>.json`` later
without the filter, and (once grievances accept Open311 requests) post requests with it. One service, one
code: ``?list=`` only filters. List codes are slugs, so the first ``:`` always separates the two parts.
:func:`service_code_for` and :func:`split_service_code` are the one place that builds and reads it.

Formats follow the spec: the extension picks XML or JSON; JSON is the Spark-convention mapping of the XML
(one structure is built and rendered either way, see :func:`_xml_element`). Errors are the spec's error
array, in the format asked for — or XML, the format every GeoReport server must speak, when the extension
is missing or unknown. Extension to the spec: ``list`` (a duty list code) on the service list.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from core.api.times import w3c_datetime
from duty_lists import selectors
from duty_lists.models import DutyList, DutyRevision, Edition

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# Double quotes, as the spec writes it: ElementTree's own declaration uses single quotes.
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
SAFE_METHODS = ("GET", "HEAD")

# Spark convention: a JSON array is an XML element holding one child per item, named in the singular.
_ITEM_TAGS = {
    "services": "service",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}
# Characters XML 1.0 cannot carry even escaped (control characters pasted from spreadsheets): dropped, or
# the whole document would be unreadable to every client.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_KEYWORD_SEPARATORS = re.compile("[,\uff0c\u3001]")  # , and the full-width comma and enumeration comma


class Open311Error(Exception):
    """Becomes the spec's error array with the same HTTP status."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


# --- service codes -----------------------------------------------------------------------------------


def service_code_for(revision: DutyRevision) -> str:
    return f"{revision.duty_list.code}:{revision.code}"


def split_service_code(service_code: str) -> tuple[str, str] | None:
    """``"livelihood:03-12-0001"`` → ``("livelihood", "03-12-0001")``; None if it is not of that shape."""
    list_code, sep, duty_code = service_code.partition(":")
    if not (sep and list_code and duty_code):
        return None
    return list_code, duty_code


# --- rendering -----------------------------------------------------------------------------------------


def _xml_element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_xml_element(key, child))
    elif isinstance(value, list):
        for child in value:
            element.append(_xml_element(_ITEM_TAGS[tag], child))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML_CHAR.sub("", str(value))  # ElementTree escapes & < > itself
    return element


def _render(response_format: str, root_tag: str, data: Any, status: int = 200) -> HttpResponse:
    if response_format == "json":
        body = json.dumps(data, ensure_ascii=False)  # Chinese as characters, not \u escapes
    else:
        body = XML_DECLARATION + ET.tostring(_xml_element(root_tag, data), encoding="unicode")
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[response_format])


def open311_view(root_tag: str) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """Turns a function returning plain data into a GeoReport endpoint: GET/HEAD only, ``.xml`` or
    ``.json`` by extension, :class:`Open311Error` rendered as the spec's error array."""

    def decorate(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        # Exempt from CSRF so that a POST gets the truthful 405 below rather than a CSRF page: these views
        # never change anything, whatever the method.
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, response_format: str | None = None, **kwargs: Any) -> HttpResponse:
            fmt = (response_format or "").lower()
            render_as = fmt if fmt in CONTENT_TYPES else "xml"
            try:
                if request.method not in SAFE_METHODS:
                    raise Open311Error(405, _("This endpoint is read-only: use GET."))
                if fmt not in CONTENT_TYPES:
                    raise Open311Error(
                        404,
                        _("Unsupported format. Append .xml or .json to the resource, e.g. services.json."),
                    )
                data = view(request, **kwargs)
            except Open311Error as error:
                errors = [{"code": error.status, "description": error.description}]
                response = _render(render_as, "errors", errors, status=error.status)
                if error.status == 405:
                    response["Allow"] = ", ".join(SAFE_METHODS)
                return response
            return _render(render_as, root_tag, data)

        return wrapper

    return decorate


# --- arguments -----------------------------------------------------------------------------------------


def _check_jurisdiction(request: HttpRequest) -> None:
    """We serve one jurisdiction, so ``jurisdiction_id`` is optional; empty counts as absent (the spec's
    rule for optional arguments). Host names are case-insensitive, hence casefold."""
    asked = request.GET.get("jurisdiction_id", "").strip()
    ours = getattr(settings, "OPEN311_JURISDICTION_ID", "zhize.local")
    if asked and asked.casefold() != ours.casefold():
        raise Open311Error(404, _("jurisdiction_id %(id)s was not found.") % {"id": asked})


def _requested_list(request: HttpRequest) -> DutyList | None:
    code = request.GET.get("list", "").strip()
    if not code:
        return None
    duty_list = DutyList.objects.filter(code=code).first()
    if duty_list is None:
        raise Open311Error(404, _("Duty list %(code)s was not found.") % {"code": code})
    return duty_list


# --- content -------------------------------------------------------------------------------------------


def _changeset() -> str:
    """When the service list last changed: services and their definitions change only when an edition is
    published. Before any edition, the epoch: still a date every client can parse, and older than any."""
    latest = Edition.objects.aggregate(latest=Max("published_at"))["latest"]
    return w3c_datetime(latest or datetime(1970, 1, 1, tzinfo=UTC))


def _services_in_force(duty_list: DutyList | None = None) -> QuerySet[DutyRevision]:
    # Without participations and legal bases (with_content=False): one query whatever the number of duties.
    return (
        selectors.revisions_in_force(duty_list=duty_list, with_content=False)
        .select_related("classification__category", "duty_list")
        .order_by("duty_list__code", "code")
    )


def _keywords(revision: DutyRevision) -> str:
    """Keywords then synonyms, once each, comma-separated; a keyword holding a comma would otherwise split
    into two on the client, so it is split here."""
    words: dict[str, None] = {}
    for entry in [*revision.keywords, *revision.synonyms]:
        for word in _KEYWORD_SEPARATORS.split(str(entry)):
            if word.strip():
                words[word.strip()] = None
    return ", ".join(words)


def _attributes(revision: DutyRevision) -> list[dict[str, Any]]:
    """The questions to ask a citizen reporting this matter. The registry records none yet; when it does,
    ``metadata`` in the service list turns true by itself."""
    return []


def _service(revision: DutyRevision) -> dict[str, Any]:
    # The spec's order (its first example); real servers vary, and clients read by name.
    return {
        "service_code": service_code_for(revision),
        "service_name": revision.title,
        "description": revision.description,
        "metadata": bool(_attributes(revision)),
        # realtime: a request posted for this service gets its id at once (a grievance is made in one step).
        "type": "realtime",
        "keywords": _keywords(revision),
        "group": revision.classification.category.name,
    }


# --- endpoints -----------------------------------------------------------------------------------------


@open311_view("discovery")
def discovery(request: HttpRequest) -> dict[str, Any]:
    changeset = _changeset()
    # The endpoint's base URL, where services.xml lives, as the client reached us (host and scheme).
    base = reverse("open311:service_list", kwargs={"response_format": "xml"}).rsplit("/", 1)[0]
    return {
        "changeset": changeset,
        "contact": getattr(settings, "OPEN311_CONTACT", "")
        or _("Questions about the duty list: ask the editorial office that keeps it."),
        "key_service": getattr(settings, "OPEN311_KEY_SERVICE", "")
        or _(
            "Reading is open to anyone: the duty list, and the service requests the office has made public. "
            "Posting a service request needs an api_key, which the editorial office issues to each client "
            "system (manage.py open311_key create NAME); an Idempotency-Key header unique to the request "
            "(the same again on a retry) keeps a retry from recording it twice. A client passing its api_key "
            "also reads back the requests it posted."
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": request.build_absolute_uri(base),
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


@open311_view("services")
def service_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Every duty in force, of every list or of ``?list=<code>``."""
    _check_jurisdiction(request)
    return [_service(revision) for revision in _services_in_force(_requested_list(request))]


@open311_view("service_definition")
def service_definition(request: HttpRequest, service_code: str) -> dict[str, Any]:
    _check_jurisdiction(request)
    parts = split_service_code(service_code)
    revision = None
    if parts is not None:
        list_code, duty_code = parts
        revision = _services_in_force().filter(duty_list__code=list_code, code=duty_code).first()
    if revision is None:
        raise Open311Error(404, _("service_code %(code)s was not found.") % {"code": service_code})
    return {"service_code": service_code_for(revision), "attributes": _attributes(revision)}
