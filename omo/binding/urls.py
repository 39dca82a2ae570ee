from django.urls import path

from omo.binding import views

app_name = "binding"

urlpatterns = [
    path("liff/", views.liff_page, name="liff"),
    path("liff/bind", views.liff_bind, name="liff-bind"),
    path("<str:code>", views.clerk_link, name="link"),
    path("<str:code>/qr.png", views.qr_png, name="qr-png"),
    path("<str:code>/qr.svg", views.qr_svg, name="qr-svg"),
    path("<str:code>/poster", views.poster, name="poster"),
]
