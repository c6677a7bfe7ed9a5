from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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


# How stale the session's expiry may get before a request renews it. The idle timeout is then kept to within
# this much, and a signed-in page pays the session's write (an UPDATE and its commit) once a minute instead of
# on every request (bench/lists.py: a fixed share of every list page).
SESSION_RENEW_AFTER_SECONDS = 60
RENEWED_KEY = "_renewed"


class IdleTimeoutMiddleware:
    """Keeps a signed-in session alive SESSION_COOKIE_AGE past its last use, renewing it at most once a
    minute (in place of SESSION_SAVE_EVERY_REQUEST). After SessionMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and settings.SESSION_COOKIE_NAME in request.COOKIES and not session.modified:
            now = int(time.time())
            if (
                now - int(session.get(RENEWED_KEY, 0)) >= SESSION_RENEW_AFTER_SECONDS
                and not session.is_empty()
            ):
                mark_session_renewed(session)  # modified: SessionMiddleware saves it, the expiry moves on
        return response


def mark_session_renewed(session: Any) -> None:
    session[RENEWED_KEY] = int(time.time())
