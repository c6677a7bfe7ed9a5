"""双向考评's pages, included by grievances/urls.py under the grievances namespace. The services'
notifications link to ``/ratings/?month=YYYY-MM``: keep that path."""

from django.urls import path

from grievances.views import ratings

urlpatterns = [
    path("ratings/", ratings.ratings, name="ratings"),
    path("ratings/appeals/<int:rating_id>/", ratings.appeal_file, name="rating_appeal_file"),
    path("ratings/appeals/<int:appeal_id>/decide/", ratings.appeal_decide, name="rating_appeal_decide"),
    # After the appeals' paths: "appeals" would read as a month here (and be refused as one).
    path("ratings/<str:month>/<int:rated_id>/", ratings.rating_form, name="rating_form"),
]
