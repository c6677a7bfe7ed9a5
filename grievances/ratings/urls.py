"""双向考评's pages, included by grievances/urls.py under the grievances namespace."""

from django.urls import path

from grievances.views import ratings

urlpatterns = [
    path("ratings/", ratings.ratings, name="ratings"),
]
