"""Tracked links, mounted at /r/ (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from omo.attribution import views

app_name = "attribution"

urlpatterns = [
    path("<str:token>", views.click, name="click"),
    path("<str:token>/", views.click),
]
