"""The admin's app config: Django's, with Paylane's admin site as ``admin.site``.

``default_site`` is how Django swaps the site behind ``admin.site`` (and so
behind every ``@admin.register`` and ``/admin/``) for a subclass. The site
asks for a one-time code when ``PAYLANE_ADMIN_OTP`` is on and records every
sign-in (``wallets/accounts/admin_site.py``).
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class PaylaneAdminConfig(AdminConfig):
    default_site = "wallets.accounts.admin_site.PaylaneAdminSite"
