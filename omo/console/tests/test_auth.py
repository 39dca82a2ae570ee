"""Sign-in, sign-out, and the language switch."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from omo.testing import factories as f


def test_sign_in_page_renders(client, db):
    response = client.get(reverse("console:login"))
    assert response.status_code == 200
    assert "登入管理後台" in response.content.decode()


def test_sign_in_with_password_goes_to_the_dashboard(client, hq_admin):
    response = client.post(reverse("console:login"), {"username": hq_admin.username, "password": "pass-1234"})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:dashboard")
    assert client.get(reverse("console:dashboard")).status_code == 200


def test_sign_in_returns_to_next(client, hq_admin):
    response = client.post(
        reverse("console:login"),
        {"username": hq_admin.username, "password": "pass-1234", "next": reverse("console:orders")},
    )
    assert response["Location"] == reverse("console:orders")


def test_wrong_password_is_refused(client, hq_admin):
    response = client.post(reverse("console:login"), {"username": hq_admin.username, "password": "nope"})
    assert response.status_code == 200
    assert "帳號或密碼不正確" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_account_without_brand_cannot_sign_in(client, db):
    root = f.make_user(None, "root", role="hq_admin", is_superuser=True, is_staff=True)
    response = client.post(reverse("console:login"), {"username": root.username, "password": "pass-1234"})
    assert response.status_code == 200
    assert "不屬於任何品牌" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_out_is_post_only(console):
    assert console.get(reverse("console:logout")).status_code == 405
    response = console.post(reverse("console:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("console:login")
    assert console.get(reverse("console:dashboard")).status_code == 302


def test_csrf_is_enforced_on_sign_out(hq_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(hq_admin)
    assert client.post(reverse("console:logout")).status_code == 403
