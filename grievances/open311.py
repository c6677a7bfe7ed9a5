"""Open311 GeoReport v2 service *requests* over the grievance loop (http://wiki.open311.org/GeoReport_v2):
post a request, list and read requests, and turn a token into a request id.

- ``POST requests.{json,xml}`` (form-encoded, ``api_key`` required) records a grievance for the duty the
  ``service_code`` names — the code the service list publishes, ``<list code>:<duty code>`` — so it is
  dispatched at once to that duty's lead. Requests are ``realtime``: the answer carries the
  ``service_request_id`` (the grievance's reference) straight away. An ``Idempotency-Key`` header, as on
  the REST API, makes a retried post return the request the first one made. Unlike the REST API it is not
  required: GeoReport v2 does not know the header, and an off-the-shelf client must still be able to post.
- ``GET requests.{json,xml}`` and ``GET requests/<id>.{json,xml}`` are open, as the spec has them, and so
  show only what the office has made public: a grievance appears once a dispatcher publishes it, with the
  description and address the dispatcher reviewed (names, phone numbers, identity-card numbers and flats
  masked), the position rounded to about a hundred metres, and ``agency_responsible`` only once a dispatcher
  has really sent it to an agency. A client that passes its ``api_key`` also sees the requests it posted
  itself, published or not, still masked, with their exact position, ``media_url`` and ``address_id``.
- ``GET tokens/<token>.{json,xml}`` turns the token a post returned into the request's id.

A request's ``status`` is ``open`` while someone still has work to do and ``closed`` once it is resolved,
closed or cancelled (a redo reopens it). ``expected_datetime`` is the grievance's working-day deadline.

GeoReport's ``media_url`` and ``address_id`` are the grievance's own columns, shown to those who handle it
and returned to the client that posted it, never published; ``device_id`` and ``account_id`` are personal
identifiers nobody needs to handle the matter, so they are not kept (``account_id`` is echoed in the
answer to the post, as the spec asks).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from core.actors import SYSTEM
from core.api.times import w3c_datetime
from core.errors import ApplicationError
from duty_lists import selectors as registry
from duty_lists.models import DutyRevision
from duty_lists.open311 import (
    CONTENT_TYPES,
    XML_DECLARATION,
    Open311Error,
    _xml_element,
    service_code_for,
    split_service_code,
)
from grievances import services
from grievances.api.idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_MAX
from grievances.models import OPEN_STATES, Channel, Grievance, GrievanceState

# The spec's limits on a search: at most 90 days, at most 1000 requests; the last 90 days by default.
MAX_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000  # the spec's length limit
TITLE_LENGTH = 80
CONTACT_NAME_MAX = 100  # Grievance.contact_name
CLOSED_STATES = (GrievanceState.RESOLVED, GrievanceState.CLOSED, GrievanceState.CANCELLED)
STATUSES = {"open": OPEN_STATES, "closed": CLOSED_STATES}
# Request fields in the spec's order (its GET Service Requests example); clients read them by name.
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
# What the public sees of a position: three decimals, about a hundred metres — the street, not the door.
PUBLIC_COORDINATE = Decimal("0.001")


# --- rendering -----------------------------------------------------------------------------------------


def _render(response_format: str, root: str, items: list[dict[str, Any]], status: int) -> HttpResponse:
    """A GeoReport document: a JSON array, or ``<root>`` holding one element per item (``request`` under
    ``service_requests``, ``error`` under ``errors``) through the services endpoint's XML mapping."""
    if response_format == "json":
        body = json.dumps(items, ensure_ascii=False)  # Chinese as characters, not \\u escapes
    else:
        element = ET.Element(root)
        item_tag = "error" if root == "errors" else "request"
        for item in items:
            element.append(_xml_element(item_tag, item))
        body = XML_DECLARATION + ET.tostring(element, encoding="unicode")
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[response_format])


Handler = Callable[..., tuple[int, list[dict[str, Any]]]]


def _endpoint(methods: tuple[str, ...]) -> Callable[[Handler], Callable[..., HttpResponse]]:
    """Like the services endpoints' decorator, but a handler may also write: it returns (status, items).
    Exempt from CSRF because no cookie authenticates here: a post carries its ``api_key``."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest, response_format: str | None = None, **kwargs: Any) -> HttpResponse:
            fmt = (response_format or "").lower()
            render_as = fmt if fmt in CONTENT_TYPES else "xml"
            try:
                if request.method not in methods:
                    raise Open311Error(405, _("Method not allowed here."))
                if fmt not in CONTENT_TYPES:
                    raise Open311Error(
                        404, _("Unsupported format. Append .xml or .json, e.g. requests.json.")
                    )
                status, items = handler(request, **kwargs)
            except Open311Error as error:
                errors = [{"code": error.status, "description": error.description}]
                response = _render(render_as, "errors", errors, error.status)
                if error.status == 405:
                    response["Allow"] = ", ".join(methods)
                return response
            return _render(render_as, "service_requests", items, status)

        return view

    return decorate


def _w3c(moment: datetime | None) -> str | None:
    # Asia/Shanghai with its offset, as the services give their changeset and the REST API its times.
    return w3c_datetime(moment) if moment else None


# --- reading a request back ----------------------------------------------------------------------------


def _status(grievance: Grievance) -> str:
    return "closed" if grievance.state in CLOSED_STATES else "open"


def _agency_responsible(grievance: Grievance) -> str | None:
    """The agency a dispatcher has sent it to, and only that: back in the queue, nobody is responsible yet,
    and the router's guess is no statement of the office's."""
    return grievance.handling_agency.name if grievance.handling_agency is not None else None


def _notice(grievance: Grievance, agency: str | None) -> str:
    deadline = f"{timezone.localtime(grievance.deadline_at):%Y-%m-%d %H:%M}"
    if grievance.state in CLOSED_STATES:
        return _("%(state)s.") % {"state": grievance.get_state_display()}
    if agency:
        return _("Handled by %(agency)s; to be completed by %(deadline)s.") % {
            "agency": agency,
            "deadline": deadline,
        }
    return _("Received; a dispatcher will send it to the agency responsible, by %(deadline)s.") % {
        "deadline": deadline
    }


def _services_of(grievances: Iterable[Grievance]) -> dict[int, DutyRevision]:
    """Each duty's service as the list has it now — or, for a duty since removed, as it last stood — in
    one query."""
    duty_ids = {g.duty_id for g in grievances if g.duty_id is not None}
    revisions = (
        DutyRevision.objects.filter(duty_id__in=duty_ids, edition__isnull=False)
        .select_related("duty_list")
        .order_by("duty_id", "-valid_from", "-id")
    )
    latest: dict[int, DutyRevision] = {}
    for revision in revisions:
        latest.setdefault(revision.duty_id, revision)
    return latest


def _coordinate(value: Decimal | None, *, exact: bool) -> float | None:
    if value is None:
        return None
    return float(value if exact else value.quantize(PUBLIC_COORDINATE))


def _request(grievance: Grievance, service: DutyRevision | None, *, own: bool) -> dict[str, Any]:
    """One request as GeoReport has it. ``own``: the client asking posted it, and gets back what it sent
    (position, media, address id) though the text stays masked like everyone's."""
    public = services.publication_proposal(grievance)
    agency = _agency_responsible(grievance)
    values = {
        "service_request_id": grievance.reference,
        "status": _status(grievance),
        "status_notes": grievance.get_state_display(),
        "service_name": service.title if service else None,
        "service_code": service_code_for(service) if service else None,
        "description": public["description"],
        "agency_responsible": agency,
        "service_notice": _notice(grievance, agency),
        "requested_datetime": _w3c(grievance.received_at),
        "updated_datetime": _w3c(grievance.updated_at),
        "expected_datetime": _w3c(grievance.deadline_at),
        "address": public["address"] or None,
        "address_id": (grievance.address_id or None) if own else None,
        "zipcode": None,
        "lat": _coordinate(grievance.latitude, exact=own),
        "long": _coordinate(grievance.longitude, exact=own),
        "media_url": (grievance.media_url or None) if own else None,
    }
    return {name: values[name] for name in REQUEST_FIELDS}


def _visible(request: HttpRequest) -> tuple[QuerySet[Grievance], int | None]:
    """The grievances this caller may read, and the id of the client asking (if its key is valid): the
    published ones, and a client's own posts. A wrong key is refused rather than quietly read as none."""
    key = request.GET.get("api_key", "").strip()
    client = services.api_client_for_key(key) if key else None
    if key and client is None:
        raise Open311Error(403, _("api_key is not valid."))
    mine = Q(client=client) if client is not None else Q(pk__in=[])
    grievances = Grievance.objects.filter(Q(published_at__isnull=False) | mine)
    return grievances, client.pk if client is not None else None


def _requests(grievances: QuerySet[Grievance], client_id: int | None) -> list[dict[str, Any]]:
    rows = list(grievances.select_related("handling_agency", "street")[:MAX_REQUESTS])
    services_by_duty = _services_of(rows)
    return [
        _request(
            g,
            services_by_duty.get(g.duty_id) if g.duty_id else None,
            own=client_id is not None and g.client_id == client_id,
        )
        for g in rows
    ]


# --- arguments -----------------------------------------------------------------------------------------


def _check_jurisdiction(asked: str, status: int) -> None:
    """We serve one jurisdiction, so it is optional; empty counts as absent (the spec's rule)."""
    ours = getattr(settings, "OPEN311_JURISDICTION_ID", "zhize.local")
    if asked.strip() and asked.strip().casefold() != ours.casefold():
        raise Open311Error(status, _("jurisdiction_id %(id)s was not found.") % {"id": asked.strip()})


def _moment(name: str, value: str) -> datetime:
    # A "+" left unencoded in a query string arrives as a space: "2025-03-01T00:00:00 08:00".
    moment = None
    for candidate in (value, value.replace(" ", "+")):
        try:
            moment = parse_datetime(candidate)
        except ValueError:
            moment = None
        if moment is not None:
            break
    if moment is None:
        raise Open311Error(
            400, _("%(name)s must be a W3C date-time, e.g. 2025-03-01T08:00:00+08:00.") % {"name": name}
        )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _services_named(codes: list[str]) -> Q:
    match = Q(pk__in=[])
    for code in codes:
        parts = split_service_code(code)
        if parts is None:
            raise Open311Error(
                400, _("service_code %(code)s is not of the form <list>:<duty>.") % {"code": code}
            )
        match |= Q(duty__duty_list__code=parts[0], duty__code=parts[1])
    return match


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _search(request: HttpRequest, grievances: QuerySet[Grievance]) -> QuerySet[Grievance]:
    """The spec's filters over what the caller may read. ``service_request_id`` overrides every other one."""
    params = request.GET
    _check_jurisdiction(params.get("jurisdiction_id", ""), 404)
    grievances = grievances.order_by("-received_at", "-id")
    ids = _split(params.get("service_request_id", ""))
    if ids:
        return grievances.filter(reference__in=ids)
    codes = _split(params.get("service_code", ""))
    if codes:
        grievances = grievances.filter(_services_named(codes))
    statuses = _split(params.get("status", "").lower())
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise Open311Error(400, _("status must be open or closed."))
    if statuses:
        grievances = grievances.filter(state__in=[state for s in statuses for state in STATUSES[s]])
    start = _moment("start_date", params["start_date"]) if params.get("start_date") else None
    end = _moment("end_date", params["end_date"]) if params.get("end_date") else None
    if start is None:
        end = end or timezone.now()
        start = end - MAX_SPAN
    elif end is None:
        end = start + MAX_SPAN
    if end < start:
        raise Open311Error(400, _("end_date is before start_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(400, _("start_date and end_date may not span more than 90 days."))
    return grievances.filter(received_at__gte=start, received_at__lte=end)


# --- posting -------------------------------------------------------------------------------------------


class _Post:
    """The posted arguments, checked as GeoReport clients expect: the first problem is the error."""

    def __init__(self, request: HttpRequest):
        self.data = request.POST

    def text(self, name: str, limit: int) -> str:
        value = self.data.get(name, "").strip()
        if len(value) > limit:
            raise Open311Error(
                400, _("%(name)s is longer than %(n)d characters.") % {"name": name, "n": limit}
            )
        return value

    def coordinate(self, name: str, bound: int) -> Decimal | None:
        raw = self.data.get(name, "").strip()
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or not -bound <= value <= bound:
            raise Open311Error(
                400, _("%(name)s must be a number from -%(b)d to %(b)d.") % {"name": name, "b": bound}
            )
        return value.quantize(Decimal("0.000001"))


def _contact_name(first: str, last: str) -> str:
    # Chinese names are written family name first, without a space; Western ones the other way round.
    if any("\u3400" <= ch <= "\u9fff" for ch in first + last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part)


def _title(description: str, service: DutyRevision) -> str:
    first_line = description.splitlines()[0].strip() if description else ""
    if not first_line:
        return service.title
    return first_line if len(first_line) <= TITLE_LENGTH else f"{first_line[: TITLE_LENGTH - 1]}…"


def _create(request: HttpRequest) -> tuple[int, list[dict[str, Any]]]:
    """1. the api_key (and an Idempotency-Key, if sent); 2. the jurisdiction and the service; 3. a
    location; 4. the rest, then the grievance."""
    client = services.api_client_for_key(request.POST.get("api_key", "") or request.GET.get("api_key", ""))
    if client is None:
        raise Open311Error(403, _("api_key was not provided or is not valid."))
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()  # optional here: see the module's doc
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise Open311Error(
            400, _("Idempotency-Key is longer than %(n)d characters.") % {"n": IDEMPOTENCY_KEY_MAX}
        )
    posted = _Post(request)
    _check_jurisdiction(posted.text("jurisdiction_id", 200), 400)

    code = posted.text("service_code", 200)
    if not code:
        raise Open311Error(400, _("service_code was not provided."))
    parts = split_service_code(code)
    service = None
    if parts is not None:
        service = (
            registry.revisions_in_force(with_content=False)
            .filter(duty_list__code=parts[0], code=parts[1])
            .select_related("duty", "duty_list")
            .first()
        )
    if service is None:
        raise Open311Error(400, _("service_code %(code)s was not found.") % {"code": code})

    latitude, longitude = posted.coordinate("lat", 90), posted.coordinate("long", 180)
    address = posted.text("address_string", 300)
    address_id = posted.text("address_id", 100)
    if (latitude is None) != (longitude is None):
        raise Open311Error(400, _("lat and long go together."))
    if latitude is None and not address and not address_id:
        raise Open311Error(400, _("A location is required: lat and long, address_string or address_id."))

    description = posted.text("description", MAX_DESCRIPTION)
    media_url = posted.text("media_url", 500)
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            raise Open311Error(400, _("media_url is not a valid http(s) URL.")) from None
    email = posted.text("email", 254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise Open311Error(400, _("email is not a valid e-mail address.")) from None
    name = _contact_name(posted.text("first_name", 100), posted.text("last_name", 100))
    if len(name) > CONTACT_NAME_MAX:
        raise Open311Error(400, _("first_name and last_name are too long together."))
    phone = posted.text("phone", 40)
    account_id = posted.text("account_id", 100)

    try:
        grievance, created = services.grievance_receive(
            actor=SYSTEM,
            client=client,
            channel=Channel.OPEN311,
            duty=service.duty,
            title=_title(description, service),
            details=description,
            address=address,
            address_id="".join(address_id.split()),
            media_url=media_url,
            latitude=latitude,
            longitude=longitude,
            contact_name=name,
            contact_phone=phone,
            contact_email=email,
            idempotency_key=key,
        )
    except ApplicationError as error:
        problems = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in error.extra.items())
        raise Open311Error(
            error.status_code, f"{error.message} {problems}".strip() if problems else error.message
        ) from None
    grievance = Grievance.objects.select_related("handling_agency", "street").get(pk=grievance.pk)
    answer = {
        "service_request_id": grievance.reference,
        "service_notice": _notice(grievance, _agency_responsible(grievance)),
        "account_id": account_id or None,
    }
    return (201 if created else 200), [answer]


# --- endpoints -----------------------------------------------------------------------------------------


@_endpoint(("GET", "HEAD", "POST"))
def request_list(request: HttpRequest) -> tuple[int, list[dict[str, Any]]]:
    if request.method == "POST":
        return _create(request)
    visible, client_id = _visible(request)
    return 200, _requests(_search(request, visible), client_id)


@_endpoint(("GET", "HEAD"))
def request_detail(request: HttpRequest, service_request_id: str) -> tuple[int, list[dict[str, Any]]]:
    _check_jurisdiction(request.GET.get("jurisdiction_id", ""), 404)
    visible, client_id = _visible(request)
    found = _requests(visible.filter(reference=service_request_id), client_id)
    if not found:
        raise Open311Error(404, _("service_request_id %(id)s was not found.") % {"id": service_request_id})
    return 200, found


@_endpoint(("GET", "HEAD"))
def token_lookup(request: HttpRequest, token: str) -> tuple[int, list[dict[str, Any]]]:
    _check_jurisdiction(request.GET.get("jurisdiction_id", ""), 404)
    reference = Grievance.objects.filter(token=token).values_list("reference", flat=True).first()
    if reference is None:
        raise Open311Error(404, _("token %(token)s was not found.") % {"token": token})
    return 200, [{"service_request_id": reference, "token": token}]
