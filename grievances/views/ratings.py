"""双向考评 (placeholder: being written)."""

from django.http import HttpRequest, HttpResponse


def ratings(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")
