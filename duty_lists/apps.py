from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DutyListsConfig(AppConfig):
    name = "duty_lists"
    verbose_name = _("Duty lists")

    def ready(self) -> None:
        from core import registry
        from duty_lists import navigation, permissions, selectors

        # Roles are memberships of agencies, which this app keeps: core asks here.
        registry.register_access(
            registry.Access(
                roles_of=permissions.roles_of,
                role_label=navigation.role_label,
                may_use_admin_site=permissions.may_use_admin_site,
                memberships_of=selectors.memberships_of,
            )
        )
        registry.register_navigation(10, navigation.entries)
        registry.register_banner(_demo_logins)


def _demo_logins() -> list[str]:
    from duty_lists.demo import DEMO_PASSWORD, PEOPLE

    return [f"  Demo logins (password for all: {DEMO_PASSWORD}):", *(f"    {p.login_line}" for p in PEOPLE)]
