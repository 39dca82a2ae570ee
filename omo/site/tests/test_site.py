"""`/` says what this installation is and where to go; 404 and 500 pages are styled and speak the
visitor's language."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import path

from config import urls as root_urls
from omo.testing import factories as f


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = [*root_urls.urlpatterns, path("boom/", _boom)]
handler404 = root_urls.handler404
handler500 = root_urls.handler500


@pytest.mark.django_db
def test_the_home_page_says_what_this_is_and_where_each_visitor_goes():
    brand = f.make_brand(name="山嵐戶外", slug="sanlan")
    page = Client().get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="zh-Hant">' in html and "這是 omo" in html
    for where in ("/console/", "/clerk/", "/api/v1/docs", f"/shop/{brand.slug}/", "/healthz"):
        assert f'href="{where}' in html, where
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/").content.decode()
    assert '<html lang="en">' in english and "This is omo" in english and "HQ console" in english
    assert "這是 omo" not in english


@pytest.mark.django_db
@override_settings(DEBUG=False, OMO_DEVTOOLS=False)
def test_the_simulator_is_offered_only_where_it_runs():
    assert "/dev/simulator/" not in Client().get("/").content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_a_missing_page_is_a_styled_404_in_the_visitors_language():
    page = Client().get("/no/such/page/")
    assert page.status_code == 404
    html = page.content.decode()
    assert "找不到這個頁面" in html and "site/site.css" in html and 'href="/"' in html
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/no/such/page/")
    assert english.status_code == 404 and "Page not found" in english.content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_a_server_error_is_a_styled_500_in_the_visitors_language():
    client = Client(raise_request_exception=False)
    page = client.get("/boom/")
    assert page.status_code == 500
    assert "系統發生錯誤" in page.content.decode() and "a bug" not in page.content.decode()
    english = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en").get("/boom/")
    assert english.status_code == 500 and "Something went wrong" in english.content.decode()
