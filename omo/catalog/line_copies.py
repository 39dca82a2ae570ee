"""LINE copies for images that have none: URL images, and uploads made before the copies existed.

An upload gets its copy when it is added (omo/catalog/services.py). An image hosted elsewhere (a
URL) and an upload from before the copies existed get theirs here, in the background: the
original is read (a URL through omo.core.outgoing_http, within OMO_IMAGE_FETCH_MAX_BYTES and
OMO_IMAGE_FETCH_TIMEOUT seconds; public addresses only unless OMO_IMAGE_FETCH_ALLOW_LOCAL), and
`line_images.line_copy` makes a JPEG/PNG within LINE's limits when it is not one already.

An SVG is rasterised only when an installed library can (cairosvg); otherwise the image gets the
catalogue's placeholder PNG as its LINE copy, and says so. Every image looked at records when
(`line_checked_at`) and, when no copy of its own could be made, why (`line_problem`, a code of
PROBLEMS, with a technical `line_problem_detail`); pages say it with `problem_sentence`.

HQ admins start it from 設定 → 商品目錄 (「補做 LINE 圖片」) or with `omo catalog_line_images`.
"""

from __future__ import annotations

import importlib.util
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import pgettext, pgettext_lazy
from PIL import Image

from omo.catalog import line_images
from omo.catalog.models import ProductImage
from omo.core.models import Brand
from omo.core.outgoing_http import FetchRefused, fetch

logger = logging.getLogger(__name__)

PLACEHOLDER_NAME = "products/line-placeholder.png"  # outside COPY_FOLDER: never deleted with a copy
PLACEHOLDER_SIDE = 512

# What became of an image (Outcome.code); the last four are problems kept on the image.
FITS = "fits"  # the original is already a JPEG/PNG within LINE's limits
COPIED = "copied"
PLACEHOLDER = "svg_placeholder"  # an SVG nothing installed can rasterise: the placeholder PNG
FETCH_FAILED = "fetch_failed"
NOT_IMAGE = "not_image"
FILE_MISSING = "file_missing"

PROBLEMS = {
    PLACEHOLDER: pgettext_lazy("line images", "SVG 圖片無法轉成 LINE 可顯示的格式，已改用商品的預設圖片。"),
    FETCH_FAILED: pgettext_lazy("line images", "無法下載圖片網址：%(detail)s"),
    NOT_IMAGE: pgettext_lazy("line images", "這個檔案不是可讀取的圖片。"),
    FILE_MISSING: pgettext_lazy("line images", "找不到上傳的圖片檔。"),
}
FETCH_DETAILS = {
    "scheme": pgettext_lazy("line images", "網址須以 http:// 或 https:// 開頭"),
    "address": pgettext_lazy("line images", "網址指向內部網路位址"),
    "connect": pgettext_lazy("line images", "無法連線"),
    "timeout": pgettext_lazy("line images", "逾時未回應"),
    "status": pgettext_lazy("line images", "對方回應錯誤"),
    "redirects": pgettext_lazy("line images", "轉址次數過多"),
    "too_large": pgettext_lazy("line images", "檔案超過大小上限"),
}


@dataclass(frozen=True)
class Outcome:
    image_id: int
    code: str
    detail: str = ""

    @property
    def sentence(self) -> str:
        return problem_sentence(self.code, self.detail) if self.code in PROBLEMS else ""


def problem_sentence(code: str, detail: str) -> str:
    """Why an image has no LINE copy of its own, in the active language."""
    if code == FETCH_FAILED:
        reason, _, note = detail.partition(": ")
        words = FETCH_DETAILS.get(reason)
        if words is None:
            said = detail
        elif note:
            said = pgettext("line images", "%(reason)s（%(note)s）") % {"reason": words, "note": note}
        else:
            said = str(words)
        return str(PROBLEMS[FETCH_FAILED]) % {"detail": said}
    template = PROBLEMS.get(code)
    return str(template) if template is not None else code


def pending(brand: Brand | int) -> QuerySet[ProductImage]:
    """The brand's images without a LINE copy that have not been looked at yet."""
    brand_id = brand if isinstance(brand, int) else brand.pk
    return ProductImage.objects.filter(brand_id=brand_id, line_url="", line_checked_at__isnull=True)


def progress(brand: Brand) -> dict[str, int]:
    """How many of the brand's images are waiting, looked at, and looked at with a problem."""
    counts = ProductImage.objects.filter(brand=brand).aggregate(
        total=Count("id"),
        waiting=Count("id", filter=Q(line_url="", line_checked_at__isnull=True)),
        problems=Count("id", filter=~Q(line_problem="")),
    )
    return {key: int(value or 0) for key, value in counts.items()}


def with_problems(brand: Brand, *, limit: int = 50) -> QuerySet[ProductImage]:
    return (
        ProductImage.objects.filter(brand=brand)
        .exclude(line_problem="")
        .select_related("product")
        .order_by("-line_checked_at", "-id")[:limit]
    )


def _fetch_limits() -> tuple[int, float, bool]:
    return (
        int(settings.OMO_IMAGE_FETCH_MAX_BYTES),
        float(settings.OMO_IMAGE_FETCH_TIMEOUT),
        bool(settings.OMO_IMAGE_FETCH_ALLOW_LOCAL),
    )


def _original(image: ProductImage) -> bytes:
    """The original's bytes: the uploaded file, or the URL fetched within the limits."""
    if image.file:
        with image.file.open("rb") as handle:
            return bytes(handle.read())
    url = line_images.absolute(image.url)
    max_bytes, timeout, allow_local = _fetch_limits()
    return fetch(url, max_bytes=max_bytes, timeout=timeout, allow_local=allow_local).body


def _is_svg(raw: bytes, url: str) -> bool:
    head = raw[:512].lstrip().lower()
    return url.lower().split("?")[0].endswith(".svg") or head.startswith(b"<svg") or b"<svg" in head


def _rasterise_svg(raw: bytes) -> bytes | None:
    """A PNG of the SVG when an installed library can draw one, else None."""
    if importlib.util.find_spec("cairosvg") is None:
        return None
    import cairosvg  # optional, not a dependency

    try:
        return bytes(cairosvg.svg2png(bytestring=raw, output_width=line_images.MAX_SIDE))
    except Exception:  # noqa: BLE001 — any drawing failure means: use the placeholder
        logger.warning("could not rasterise an SVG", exc_info=True)
        return None


def placeholder_url() -> str:
    """The catalogue's placeholder PNG (drawn once with Pillow, stored beside the copies)."""
    if not default_storage.exists(PLACEHOLDER_NAME):
        picture = Image.new("RGB", (PLACEHOLDER_SIDE, PLACEHOLDER_SIDE), "#dcdcd5")
        band = Image.new("RGB", (PLACEHOLDER_SIDE, PLACEHOLDER_SIDE // 2), "#ecebe6")
        picture.paste(band, (0, 0))
        out = io.BytesIO()
        picture.save(out, "PNG", optimize=True)
        default_storage.save(PLACEHOLDER_NAME, ContentFile(out.getvalue()))
    return default_storage.url(PLACEHOLDER_NAME)


def make_copy(image: ProductImage) -> Outcome:
    """Look at one image and give it its LINE copy when it needs one; records the outcome on it."""
    code, detail = _make(image)
    image.line_checked_at = timezone.now()
    image.line_problem = code if code in PROBLEMS else ""
    image.line_problem_detail = detail[:300] if code in PROBLEMS else ""
    image.save(update_fields=["line_url", "line_checked_at", "line_problem", "line_problem_detail"])
    return Outcome(image.pk, code, detail)


def _make(image: ProductImage) -> tuple[str, str]:
    try:
        raw = _original(image)
    except FetchRefused as exc:
        return FETCH_FAILED, f"{exc.code}: {exc.detail}" if exc.detail else exc.code
    except (FileNotFoundError, OSError) as exc:
        return FILE_MISSING, str(exc)[:300]
    if _is_svg(raw, image.src):
        png = _rasterise_svg(raw)
        if png is None:
            image.line_url = placeholder_url()
            return PLACEHOLDER, ""
        raw = png
    try:
        made = line_images.line_copy(raw)
    except line_images.ImageError as exc:
        return NOT_IMAGE, str(exc.__cause__ or "")[:300]
    if made is None:
        if image.file or line_images.is_line_url(line_images.absolute(image.url)):
            return FITS, ""
        made = _reencoded(raw)  # fits, but its URL is not one LINE takes (http://, no .jpg/.png)
    line_images.store_line_copy(image, made)
    return COPIED, ""


def _reencoded(raw: bytes) -> tuple[bytes, str]:
    with Image.open(io.BytesIO(raw)) as picture:
        return (raw, "png") if picture.format == "PNG" else (raw, "jpg")


def make_missing(
    brand: Brand | int,
    *,
    retry_problems: bool = False,
    on_image: Callable[[Outcome, int, int], None] | None = None,
) -> dict[str, int]:
    """Make the copies the brand's images lack; `on_image(outcome, done, total)` after each.
    With `retry_problems`, images that had a problem are looked at again. Returns counts by outcome."""
    brand_id = brand if isinstance(brand, int) else brand.pk
    if retry_problems:
        ProductImage.objects.filter(brand_id=brand_id).exclude(line_problem="").update(
            line_checked_at=None, line_problem="", line_problem_detail="", line_url=""
        )
    ids = list(pending(brand_id).order_by("id").values_list("id", flat=True))
    counts: dict[str, int] = {}
    for done, image_id in enumerate(ids, start=1):
        image = ProductImage.objects.filter(pk=image_id, brand_id=brand_id).first()
        if image is None:
            continue
        try:
            outcome = make_copy(image)
        except Exception as exc:  # noqa: BLE001 — one image must not stop the others
            logger.exception("LINE copy of image %s failed", image_id)
            ProductImage.objects.filter(pk=image_id).update(
                line_checked_at=timezone.now(), line_problem=NOT_IMAGE, line_problem_detail=str(exc)[:300]
            )
            outcome = Outcome(image_id, NOT_IMAGE, str(exc)[:300])
        counts[outcome.code] = counts.get(outcome.code, 0) + 1
        if on_image is not None:
            on_image(outcome, done, len(ids))
    return counts


def outcome_words(code: str) -> str:
    """An outcome in a few words, for the command's lines."""
    words = {
        FITS: pgettext_lazy("line images", "原圖即可使用"),
        COPIED: pgettext_lazy("line images", "已製作 LINE 圖片"),
    }.get(code)
    return str(words) if words is not None else pgettext("line images", "未能製作")
