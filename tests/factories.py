from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from duty_lists.models import Agency, AgencyKind, AgencyLevel, Membership, Role

PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"测试用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")

    @factory.post_generation
    def password(user: Any, create: bool, extracted: str | None, **kwargs: object) -> None:
        user.set_password(extracted or PASSWORD)
        if create:
            user.save()  # saving a new password also records it in the password history


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.Sequence(lambda n: f"测试部门{n}")
    short_name = factory.LazyAttribute(lambda a: a.name[:6])
    level = AgencyLevel.DISTRICT
    kind = AgencyKind.GOVERNMENT


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.AGENCY_STAFF
