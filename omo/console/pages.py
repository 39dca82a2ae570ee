"""Rendering helpers shared by console views: the layout's context and pagination."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from omo.console.access import ConsoleRequest
from omo.console.nav import navigation

PAGE_SIZE = 50


def render_page(
    request: ConsoleRequest, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """render() with what the layout needs: the sidebar for this user and their brand."""
    user = request.user
    layout = {"nav": navigation(request), "brand": user.brand, "console_user": user}
    return render(request, template, {**layout, **(context or {})}, status=status)


def paginate(request: HttpRequest, items: QuerySet, per_page: int = PAGE_SIZE) -> Page:
    """The requested page (bad or out-of-range numbers give the nearest valid page)."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))
