"""Creating a brand (tenant) with what it needs on day one."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from omo.core import access, apikeys, audit
from omo.core.audit import Actor
from omo.core.models import Brand

SLUG_MAX_LENGTH: int = Brand._meta.get_field("slug").max_length or 60
FALLBACK_SLUG = "brand"


@dataclass(frozen=True)
class NewBrand:
    brand: Brand
    api_key: str  # the admin key's secret; shown once, never stored in clear


def unique_brand_slug(name: str) -> str:
    """An ASCII slug of `name`, made unique with -2, -3, ... when taken."""
    base = slugify(name)[:SLUG_MAX_LENGTH].strip("-") or FALLBACK_SLUG
    slug, n = base, 1
    while Brand.objects.filter(slug=slug).exists():
        n += 1
        suffix = f"-{n}"
        slug = f"{base[: SLUG_MAX_LENGTH - len(suffix)]}{suffix}"
    return slug


def create_brand(
    name: str, *, slug: str | None = None, key_name: str = "admin (omo brand create)"
) -> NewBrand:
    """A brand with a unique slug, its default loyalty programme (when that app is installed) and
    an HQ-admin API key. Audited as the system."""
    name = name.strip()
    if not name:
        raise ValueError("a brand needs a name")
    if slug is not None:
        slug = slugify(slug)
        if not slug or len(slug) > SLUG_MAX_LENGTH:
            raise ValueError(f"slug must be 1-{SLUG_MAX_LENGTH} letters, digits or hyphens")
        if Brand.objects.filter(slug=slug).exists():
            raise ValueError(f"slug {slug!r} is taken")
    for _attempt in range(5):
        try:
            with transaction.atomic():
                brand = Brand.objects.create(name=name, slug=slug or unique_brand_slug(name))
                _create_default_loyalty_program(brand)
                actor = Actor.system(brand)
                audit.record(actor, "brand.created", brand, name=name, slug=brand.slug)
                _, secret = apikeys.create_api_key(
                    brand, name=key_name, role=access.policy().brand_owner_role, actor=actor
                )
            return NewBrand(brand=brand, api_key=secret)
        except IntegrityError:
            if slug is not None:
                raise ValueError(f"slug {slug!r} is taken") from None
            # Another process took the same slug between our check and insert; pick the next one.
            continue
    raise RuntimeError(f"could not find a free slug for brand {name!r}")


def _create_default_loyalty_program(brand: Brand) -> None:
    try:
        program_model = apps.get_model("loyalty", "LoyaltyProgram")
    except LookupError:
        return
    program_model.objects.get_or_create(brand=brand)
