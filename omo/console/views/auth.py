"""Sign-in and sign-out (Django's own views with the console's template and form)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from omo.console.forms import ConsoleAuthenticationForm


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    authentication_form = ConsoleAuthenticationForm


class ConsoleLogoutView(auth_views.LogoutView):
    """POST only (Django refuses GET), so a link or an image tag cannot sign anyone out."""

    next_page = "console:login"
