"""Creating a brand (tenant) with what it needs on day one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from omo.core import access, apikeys, audit
from omo.core.audit import Actor
from omo.core.models import Brand

SLUG_MAX_LENGTH: int = Brand._meta.get_field("slug").max_length or 60
FALLBACK_SLUG = "brand"

# What each app sets up for a new brand, in the brand's creating transaction (registered from the
# apps' AppConfig.ready, so the core names none of them): e.g. loyalty's default programme.
_setups: dict[str, Callable[[Brand], object]] = {}


def register_setup(name: str, setup: Callable[[Brand], object]) -> None:
    """Run `setup(brand)` when a brand is created (each app registers its own, once)."""
    known = _setups.get(name)
    if known is not None and known is not setup:
        raise ValueError(f"brand setup {name!r} is already registered")
    _setups[name] = setup


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
    """A brand with a unique slug, what each app sets up for it (`register_setup`: the default
    loyalty programme...) and an HQ-admin API key. Audited as the system."""
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
                for name in sorted(_setups):
                    _setups[name](brand)
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
