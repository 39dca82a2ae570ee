from django.contrib import admin

from omo.loyalty.models import Coupon, CouponCode, LoyaltyAccount, LoyaltyProgram, PointsEntry, Tier


@admin.register(LoyaltyProgram)
class LoyaltyProgramAdmin(admin.ModelAdmin):
    list_display = ("brand", "earn_points", "earn_per_amount", "point_value", "expiry_months")


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "threshold", "earn_multiplier_percent")
    list_filter = ("brand",)


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(admin.ModelAdmin):
    list_display = ("customer", "brand", "balance", "tier", "rolling_spend")
    list_filter = ("brand", "tier")
    raw_id_fields = ("customer",)
    readonly_fields = ("balance", "lifetime_earned")  # moved only with a ledger entry


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "customer", "kind", "delta", "reason", "order")
    list_filter = ("brand", "kind")
    raw_id_fields = ("customer", "order")

    def has_change_permission(self, request, obj=None):
        return False  # append-only ledger

    def has_delete_permission(self, request, obj=None):
        return False


class CodeInline(admin.TabularInline):
    model = CouponCode
    extra = 0
    fields = ("code", "customer", "max_uses", "times_used")
    raw_id_fields = ("customer",)


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "kind", "value", "min_spend", "starts_at", "ends_at", "is_active")
    list_filter = ("brand", "kind", "is_active")
    inlines = [CodeInline]
