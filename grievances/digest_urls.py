"""The daily digest's pages, included by grievances/urls.py under the grievances namespace. The e-mail links
to ``/grievances/digests/<day>/``: that path must stay as it is."""

from django.urls import path

from grievances.views import digest

urlpatterns = [
    path("grievances/digests/", digest.digest_list, name="digest_list"),
    # Before the day's path, which would otherwise take "build" for a day.
    path("grievances/digests/build/", digest.digest_build, name="digest_build"),
    path("grievances/digests/<str:day>/", digest.digest_detail, name="digest_detail"),
]
