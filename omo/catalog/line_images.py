"""Product images LINE can show: HTTPS, JPEG or PNG, within LINE's limits (docs/line.md, "Images").

LINE shows an image message's file (`originalContentUrl`, up to 10 MB), its preview
(`previewImageUrl`, up to 1 MB) and a Flex card's hero image (up to 1024 × 1024 pixels, 10 MB),
each only as an HTTPS JPEG or PNG of at most 2,000 characters of URL. One copy that is a JPEG or
PNG of at most 1024 pixels a side and 1 MB fits all three, so that is what omo makes, with Pillow,
for an uploaded original that is none of these (WebP, GIF, a large photo). It is stored beside the
original and named in `ProductImage.line_url`.

`line_image_url` answers the absolute URL to send (the copy, else the original), under
`OMO_BASE_URL` for files served by this site, or "" when no URL LINE accepts exists (an
installation without an HTTPS base URL; an image hosted elsewhere as WebP or SVG): the card is
then sent without its picture rather than refused.
"""

from __future__ import annotations

import io
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext
from PIL import Image, UnidentifiedImageError

from omo.catalog.models import ProductImage
from omo.core.errors import FieldError

MAX_SIDE = 1024  # pixels, a Flex image
MAX_BYTES = 1024 * 1024  # the preview image's limit; the same copy serves as the original
MAX_URL = 2000
LINE_SUFFIXES = (".jpg", ".jpeg", ".png")
LINE_FORMATS = {"JPEG", "PNG"}
COPY_FOLDER = "products/line"
JPEG_QUALITIES = (85, 75, 65, 55)


class ImageError(FieldError, ValueError):
    """An uploaded file that is not a readable image."""


def is_line_url(url: str) -> bool:
    """An absolute URL LINE accepts for an image: HTTPS, ≤2,000 characters, a .jpg/.jpeg/.png file."""
    return (
        url.lower().startswith("https://")
        and len(url) <= MAX_URL
        and urlsplit(url).path.lower().endswith(LINE_SUFFIXES)
    )


def absolute(src: str) -> str:
    if not src or src.startswith(("http://", "https://")):
        return src
    return f"{settings.BASE_URL.rstrip('/')}/{src.lstrip('/')}"


def line_image_url(image: ProductImage) -> str:
    """The absolute URL of this image that LINE accepts, or ""."""
    for candidate in (image.line_url, image.src):
        url = absolute(candidate)
        if url and is_line_url(url):
            return url
    return ""


def product_line_image_url(images: list[ProductImage]) -> str:
    """The first of a product's images (in their order) that LINE can show, or ""."""
    for image in images:
        url = line_image_url(image)
        if url:
            return url
    return ""


def _encode(picture: Image.Image) -> tuple[bytes, str]:
    """PNG when it has transparency and fits, else JPEG at the best quality that fits."""
    has_alpha = picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info)
    if has_alpha:
        out = io.BytesIO()
        picture.convert("RGBA").save(out, "PNG", optimize=True)
        if out.tell() <= MAX_BYTES:
            return out.getvalue(), "png"
        flat = Image.new("RGB", picture.size, "white")
        flat.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").getchannel("A"))
        picture = flat
    rgb = picture.convert("RGB")
    while True:
        for quality in JPEG_QUALITIES:
            out = io.BytesIO()
            rgb.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= MAX_BYTES:
                return out.getvalue(), "jpg"
        rgb = rgb.resize((max(1, rgb.width * 3 // 4), max(1, rgb.height * 3 // 4)))


def line_copy(raw: bytes) -> tuple[bytes, str] | None:
    """A JPEG/PNG within LINE's limits made from `raw`, or None when `raw` already is one.
    Raises ImageError when `raw` is not an image Pillow can read."""
    try:
        with Image.open(io.BytesIO(raw)) as picture:
            fits = picture.format in LINE_FORMATS and max(picture.size) <= MAX_SIDE and len(raw) <= MAX_BYTES
            if fits:
                return None
            picture.seek(0)  # an animated GIF or WebP: its first frame
            frame = picture.copy()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError("file", gettext("無法讀取這個圖片檔")) from exc
    frame.thumbnail((MAX_SIDE, MAX_SIDE))
    return _encode(frame)


def store_line_copy(image: ProductImage, made: tuple[bytes, str] | None) -> str:
    """Store the copy `line_copy` made of an uploaded original beside it; returns its URL (also set
    on the image, unsaved), or "" when none was needed."""
    if made is None:
        return ""
    data, extension = made
    name = default_storage.save(f"{COPY_FOLDER}/{uuid.uuid4().hex}.{extension}", ContentFile(data))
    image.line_url = default_storage.url(name)
    return image.line_url


def delete_line_copy(image: ProductImage) -> None:
    """Remove a copy this module stored (never a URL set by someone else, e.g. the demo's)."""
    prefix = f"{settings.MEDIA_URL.rstrip('/')}/{COPY_FOLDER}/"
    if image.line_url.startswith(prefix):
        default_storage.delete(image.line_url[len(settings.MEDIA_URL.rstrip("/")) + 1 :])
