from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from core.passwords import password_expired

_MACHINE_PREFIXES = ("/api/", "/open311/")


class LanguageMiddleware:
    """Simplified Chinese unless the person chose otherwise.

    Django's LocaleMiddleware follows the browser's Accept-Language, which would show an officer whose
    browser happens to be set to English an English page. Here the browser interface follows only the
    choice made with the language switch (a cookie); programs calling the API may ask with Accept-Language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.supported and request.path.startswith(_MACHINE_PREFIXES):
            language = translation.get_language_from_request(request)
        if language not in self.supported:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Cookie", "Accept-Language"))
        return response


class PasswordRotationMiddleware:
    """Sends a signed-in person whose password is past its maximum age to the password change page."""

    # favicon: browsers fetch it beside every page, and each redirect would add one more warning.
    allowed_url_names = ("password_change", "password_change_done", "logout", "set_language", "favicon")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.path.startswith(_MACHINE_PREFIXES) is False
            and not request.path.startswith(settings.STATIC_URL)
            and request.path not in {reverse(name) for name in self.allowed_url_names}
            and password_expired(user)
        ):
            messages.warning(request, _("Your password has expired. Please choose a new one to continue."))
            return redirect("password_change")
        return self.get_response(request)
