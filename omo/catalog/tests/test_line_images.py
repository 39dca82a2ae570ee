"""Product images LINE can show: uploads that are not a JPEG/PNG within LINE's limits get a copy
stored beside them; the URL sent to LINE is HTTPS under OMO_BASE_URL, or none."""

from __future__ import annotations

import io
import random

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from omo.catalog import line_images
from omo.catalog.models import ProductImage
from omo.testing import factories as f


@pytest.fixture(autouse=True)
def _site(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.BASE_URL = "https://shop.example.com"


def _file(name: str, fmt: str, size: tuple[int, int], content_type: str, *, noise: bool = False, **save):
    if noise:  # a photo-like image that does not compress: a large PNG of it is several MB
        rng = random.Random(7)
        picture = Image.frombytes(
            "RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3))
        )
    else:
        picture = Image.new("RGB", size, "#2E5B38")
        if fmt in ("WEBP", "GIF"):  # a transparent corner: the copy keeps it, as a PNG
            picture = picture.convert("RGBA")
            picture.paste((0, 0, 0, 0), (0, 0, 20, 20))
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **save)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def _upload(api, product, upload):
    response = api.client.post(
        f"/api/v1/products/{product.pk}/images/upload", {"file": upload}, **api._headers()
    )
    assert response.status_code == 201, response.content
    return ProductImage.objects.get(pk=response.json()["id"])


def _stored(image: ProductImage) -> Image.Image:
    name = image.line_url.removeprefix("/media/")
    with default_storage.open(name) as handle:
        data = handle.read()
    assert len(data) <= line_images.MAX_BYTES
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


@pytest.mark.parametrize(
    ("name", "fmt", "content_type", "size", "expected"),
    [
        ("side.webp", "WEBP", "image/webp", (600, 400), "PNG"),
        ("spin.gif", "GIF", "image/gif", (300, 300), "PNG"),
        ("huge.jpg", "JPEG", "image/jpeg", (3000, 2000), "JPEG"),
    ],
)
def test_an_upload_line_cannot_show_gets_a_jpeg_or_png_copy(
    api, brand, name, fmt, content_type, size, expected
):
    product = f.make_product(brand)

    image = _upload(api, product, _file(name, fmt, size, content_type))

    assert image.line_url.startswith("/media/products/line/")
    copy = _stored(image)
    assert copy.format == expected
    assert max(copy.size) <= line_images.MAX_SIDE
    assert line_images.line_image_url(image) == f"https://shop.example.com{image.line_url}"


def test_a_photo_too_heavy_as_png_becomes_a_jpeg_under_one_megabyte(api, brand):
    product = f.make_product(brand)

    image = _upload(api, product, _file("scan.png", "PNG", (1200, 1200), "image/png", noise=True))

    copy = _stored(image)
    assert (copy.format, max(copy.size) <= 1024) == ("JPEG", True)


def test_a_jpeg_or_png_within_the_limits_is_sent_as_it_is(api, brand):
    product = f.make_product(brand)

    image = _upload(api, product, _file("front.png", "PNG", (800, 800), "image/png"))

    assert image.line_url == ""
    assert line_images.line_image_url(image) == f"https://shop.example.com{image.file.url}"


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(api, brand, tmp_path):
    product = f.make_product(brand)
    fake = SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20, content_type="image/png")

    response = api.client.post(
        f"/api/v1/products/{product.pk}/images/upload", {"file": fake}, **api._headers()
    )

    assert response.status_code == 422 and response.json()["field"] == "file"
    assert not ProductImage.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


def test_removing_the_image_removes_its_copy(api, brand, tmp_path):
    product = f.make_product(brand)
    image = _upload(api, product, _file("side.webp", "WEBP", (600, 400), "image/webp"))
    copy_path = tmp_path / image.line_url.removeprefix("/media/")
    assert copy_path.exists()

    assert api.delete(f"/api/v1/products/{product.pk}/images/{image.pk}").status_code == 204

    assert not copy_path.exists()


def test_urls_line_refuses_are_never_sent(brand, settings):
    product = f.make_product(brand)
    svg = ProductImage(brand=brand, product=product, url="/static/demo/products/3.svg")
    twin = ProductImage(
        brand=brand,
        product=product,
        url="/static/demo/products/3.svg",
        line_url="/static/demo/products/3.png",
    )
    webp = ProductImage(brand=brand, product=product, url="https://cdn.example.com/a.webp")
    jpeg = ProductImage(brand=brand, product=product, url="https://cdn.example.com/a.jpg?v=2")
    plain = ProductImage(brand=brand, product=product, url="http://cdn.example.com/a.jpg")

    assert line_images.line_image_url(svg) == ""
    assert line_images.line_image_url(twin) == "https://shop.example.com/static/demo/products/3.png"
    assert line_images.line_image_url(webp) == ""
    assert line_images.line_image_url(jpeg) == "https://cdn.example.com/a.jpg?v=2"
    assert line_images.line_image_url(plain) == ""
    assert line_images.product_line_image_url([svg, webp, jpeg]) == "https://cdn.example.com/a.jpg?v=2"
    settings.BASE_URL = "http://127.0.0.1:8000"  # LINE fetches over HTTPS only
    assert line_images.line_image_url(twin) == ""
