"""The monthly agency ranking (placeholder: being written)."""

from django.http import HttpRequest, HttpResponse


def ranking(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")
