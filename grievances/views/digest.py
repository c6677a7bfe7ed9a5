"""The daily digest (placeholder: being written)."""

from django.http import HttpRequest, HttpResponse


def digest_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")
