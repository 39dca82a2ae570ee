"""LINE copies of images hosted elsewhere and of older uploads, made in the background: fetched from a
local HTTP server within a size and time limit; an SVG gets the placeholder PNG; each image records
what became of it; the console page (HQ admin) and `omo catalog line-images` start it."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from omo.catalog import line_copies, line_images
from omo.catalog.models import ProductImage
from omo.catalog.tasks import make_line_copies
from omo.core.models import AuditLog
from omo.core.outgoing_http import FetchRefused, fetch
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


def _picture(fmt: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#2E5B38").save(out, fmt)
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
FILES: dict[str, tuple[str, bytes]] = {
    "/photo.webp": ("image/webp", _picture("WEBP", (300, 200))),
    "/big.jpg": ("image/jpeg", _picture("JPEG", (2000, 1500))),
    "/small.png": ("image/png", _picture("PNG", (64, 64))),
    "/logo.svg": ("image/svg+xml", SVG),
    "/text.png": ("image/png", b"this is not a picture"),
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/photo.webp")
            self.end_headers()
        elif self.path == "/slow.png":
            time.sleep(2)
            self.send_response(200)
            self.end_headers()
        elif self.path == "/huge.png":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
        elif self.path in FILES:
            content_type, body = FILES[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _site(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.BASE_URL = "https://shop.example.com"
    settings.OMO_IMAGE_FETCH_ALLOW_LOCAL = True
    settings.OMO_IMAGE_FETCH_TIMEOUT = 0.5
    settings.OMO_IMAGE_FETCH_MAX_BYTES = 5 * 1024 * 1024


def _url_image(brand, url: str) -> ProductImage:
    product = f.make_product(brand)
    return ProductImage.objects.create(brand=brand, product=product, url=url)


def _stored(image: ProductImage) -> Image.Image:
    with default_storage.open(image.line_url.removeprefix("/media/")) as handle:
        picture = Image.open(io.BytesIO(handle.read()))
        picture.load()
        return picture


def test_url_images_get_their_copy_and_each_records_what_became_of_it(brand, server):
    webp = _url_image(brand, f"{server}/photo.webp")
    big = _url_image(brand, f"{server}/big.jpg")
    small = _url_image(brand, f"{server}/small.png")  # fits, but over http: LINE wants https
    moved = _url_image(brand, f"{server}/moved")
    svg = _url_image(brand, f"{server}/logo.svg")
    text = _url_image(brand, f"{server}/text.png")
    gone = _url_image(brand, f"{server}/missing.png")
    slow = _url_image(brand, f"{server}/slow.png")
    huge = _url_image(brand, f"{server}/huge.png")
    seen: list[tuple[int, str, int, int]] = []

    counts = line_copies.make_missing(
        brand,
        on_image=lambda outcome, done, total: seen.append((outcome.image_id, outcome.code, done, total)),
    )

    assert counts == {"copied": 4, "svg_placeholder": 1, "not_image": 1, "fetch_failed": 3}
    assert [row[2:] for row in seen] == [(n, 9) for n in range(1, 10)]  # progress, image by image
    for image in (webp, big, small, moved):
        image.refresh_from_db()
        assert image.line_url.startswith("/media/products/line/") and image.line_problem == ""
        assert line_images.line_image_url(image).startswith("https://shop.example.com/media/products/line/")
        picture = _stored(image)
        assert picture.format in ("JPEG", "PNG") and max(picture.size) <= line_images.MAX_SIDE
    assert max(_stored(big).size) == 1024
    svg.refresh_from_db()
    assert (svg.line_problem, svg.line_url) == ("svg_placeholder", "/media/products/line-placeholder.png")
    assert _stored(svg).format == "PNG"
    for image, code, detail in (
        (text, "not_image", ""),
        (gone, "fetch_failed", "status: 404"),
        (slow, "fetch_failed", "timeout: 0.5 s"),
        (huge, "fetch_failed", f"too_large: {50 * 1024 * 1024}"),
    ):
        image.refresh_from_db()
        assert (image.line_problem, image.line_url) == (code, ""), image.url
        assert image.line_checked_at is not None
        if detail:
            assert image.line_problem_detail == detail
    assert (
        line_copies.problem_sentence(gone.line_problem, gone.line_problem_detail)
        == "無法下載圖片網址：對方回應錯誤（404）"
    )
    with translation.override("en"):
        assert line_copies.problem_sentence(slow.line_problem, slow.line_problem_detail) == (
            "Could not download the image URL: no answer in time (0.5 s)"
        )
    assert line_copies.make_missing(brand) == {}  # looked at once: not again
    assert line_copies.progress(brand) == {"total": 9, "waiting": 0, "problems": 5}  # the SVG says so too


def test_an_upload_from_before_the_copies_gets_its_copy_and_a_fitting_one_needs_none(brand, other_brand):
    product = f.make_product(brand)
    old = ProductImage(brand=brand, product=product)
    old.file.save("old.webp", ContentFile(_picture("WEBP", (300, 300))), save=True)
    fine = ProductImage(brand=brand, product=product)
    fine.file.save("fine.jpg", ContentFile(_picture("JPEG", (300, 300))), save=True)
    other_brand_image = ProductImage(brand=other_brand, product=f.make_product(other_brand))
    other_brand_image.file.save("theirs.webp", ContentFile(_picture("WEBP", (30, 30))), save=True)

    assert line_copies.make_missing(brand) == {"copied": 1, "fits": 1}

    old.refresh_from_db()
    fine.refresh_from_db()
    other_brand_image.refresh_from_db()
    assert old.line_url.startswith("/media/products/line/") and _stored(old).format == "JPEG"
    assert fine.line_url == "" and fine.line_checked_at is not None
    assert other_brand_image.line_checked_at is None  # another brand's images are not touched


def test_fetch_refuses_private_addresses_unless_allowed(server):
    with pytest.raises(FetchRefused) as refused:
        fetch(f"{server}/small.png", max_bytes=1000, timeout=1)
    assert refused.value.code == "address"
    with pytest.raises(FetchRefused) as refused:
        fetch("ftp://example.com/a.png", max_bytes=1000, timeout=1)
    assert refused.value.code == "scheme"
    assert (
        fetch(f"{server}/small.png", max_bytes=100_000, timeout=1, allow_local=True).content_type
        == "image/png"
    )


def test_adding_a_url_image_queues_its_copy(brand, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    api = f.ApiClient(f.make_api_key(brand, role="hq_admin"))
    product = f.make_product(brand)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/products/{product.pk}/images", {"url": "https://cdn.example.com/a.webp"}
        )
    assert response.status_code == 201, response.content
    assert DBTaskResult.objects.filter(task_path=make_line_copies.module_path).count() == 1


def test_the_command_reports_each_image(brand, server):
    image = _url_image(brand, f"{server}/photo.webp")
    gone = _url_image(brand, f"{server}/missing.png")
    out = StringIO()

    call_command("catalog", "line-images", "--brand", brand.slug, stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"[1/2] image {image.pk}: copied ")
    assert lines[1].startswith(f"[2/2] image {gone.pk}: fetch_failed ")
    assert lines[-1] == "done: copied 1, fetch_failed 1"
    _url_image(brand, f"{server}/missing.png")
    out = StringIO()
    call_command("catalog", "line-images", "--brand", brand.slug, "--retry-problems", stdout=out)
    assert out.getvalue().splitlines()[-1] == "done: fetch_failed 2"


def test_the_command_refuses_an_unknown_brand():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no brand with slug 'nope'"):
        call_command("catalog", "line-images", "--brand", "nope")


def test_console_page_shows_progress_and_problems_and_starts_the_work(
    brand, hq_admin, server, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    gone = _url_image(brand, f"{server}/missing.png")
    line_copies.make_missing(brand)
    _url_image(brand, f"{server}/photo.webp")
    client = Client()
    client.force_login(hq_admin)
    url = reverse("console:catalog_settings")

    page = client.get(url).content.decode()

    assert "共 2 張商品圖片；1 張尚待檢查，1 張無法製作 LINE 圖片。" in page
    assert f'data-testid="line-image-problem-{gone.pk}"' in page
    assert "無法下載圖片網址：對方回應錯誤（404）" in page and "fetch_failed" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"retry_problems": "1"})
    assert response.status_code == 302
    assert DBTaskResult.objects.filter(task_path=make_line_copies.module_path).count() == 1
    assert AuditLog.objects.filter(action="catalog.line_images_requested").count() == 1


def test_console_page_is_for_hq_admins_only(brand, hq_agent, manager):
    from django_tasks_db.models import DBTaskResult

    url = reverse("console:catalog_settings")
    for user in (hq_agent, manager):
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert not DBTaskResult.objects.exists()
    assert not AuditLog.objects.filter(action="catalog.line_images_requested").exists()
