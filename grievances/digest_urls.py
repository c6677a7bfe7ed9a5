"""The daily digest's pages, included by grievances/urls.py under the grievances namespace."""

from django.urls import path

from grievances.views import digest

urlpatterns = [
    path("grievances/digests/", digest.digest_list, name="digest_list"),
]
