from django.urls import path

from omo.tracking import views

app_name = "tracking"

urlpatterns = [
    path("batch", views.batch, name="batch"),
    path("track", views.track, name="track"),
    path("identify", views.identify, name="identify"),
    path("page", views.page, name="page"),
    path("screen", views.screen, name="screen"),
    path("group", views.group, name="group"),
    path("alias", views.alias, name="alias"),
]
