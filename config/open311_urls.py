"""Open311 GeoReport v2, mounted by the project at ``open311/v2/``. Wired here, in config, because it
joins two apps: the service list is the duty list's (duty_lists/open311.py), service requests are
grievances (grievances/open311.py)."""

from django.urls import re_path

from duty_lists import open311
from grievances import open311 as service_requests

app_name = "open311"

# The spec picks the format by extension (services.xml, services/<code>.json). The extension is optional
# here only so that a missing one gets the spec's error answer instead of an HTML 404 page.
_FORMAT = r"(?:\.(?P<response_format>[^./]+))?"

urlpatterns = [
    re_path(rf"^discovery{_FORMAT}$", open311.discovery, name="discovery"),
    re_path(rf"^services{_FORMAT}$", open311.service_list, name="service_list"),
    # Lazy code, so the last dot starts the extension.
    re_path(
        rf"^services/(?P<service_code>[^/]+?){_FORMAT}$",
        open311.service_definition,
        name="service_definition",
    ),
    # Service requests (grievances). References and tokens hold no dots.
    re_path(rf"^requests{_FORMAT}$", service_requests.request_list, name="request_list"),
    re_path(
        rf"^requests/(?P<service_request_id>[^/]+?){_FORMAT}$",
        service_requests.request_detail,
        name="request_detail",
    ),
    re_path(rf"^tokens/(?P<token>[^/]+?){_FORMAT}$", service_requests.token_lookup, name="token"),
]
