"""The request type of views that only a brand's signed-in staff reach.

The console and the clerk app wrap every view in a check (omo.console.access.console_view,
omo.clerk.views.clerk_view) that answers anonymous users, brand-less accounts and the wrong roles
before the view runs. Behind that check the user is a staff member of one brand, which is what
`StaffRequest.user` says to the type checker; the view itself has nothing left to test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from omo.core.models import Brand
    from omo.staff.models import User

    class BrandStaff(User):
        """A User whose brand is set: what the console and clerk checks let through."""

        brand: Brand
        brand_id: int

        class Meta:
            abstract = True


class SignedInRequest(HttpRequest):
    """What a view behind `login_required` receives: a signed-in user, with or without a brand."""

    user: User


class StaffRequest(SignedInRequest):
    user: BrandStaff
