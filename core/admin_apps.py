from django.contrib.admin.apps import AdminConfig


class ZhizeAdminConfig(AdminConfig):
    """The admin with role-based permissions (core.admin_site.ZhizeAdminSite) as ``admin.site``."""

    default_site = "core.admin_site.ZhizeAdminSite"
