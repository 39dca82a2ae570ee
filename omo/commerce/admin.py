from django.contrib import admin

from omo.commerce.models import Order, OrderLine, Refund


class LineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ("sku", "title", "quantity", "unit_price", "discount", "total", "refunded_quantity")
    readonly_fields = fields


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    readonly_fields = ("external_id", "amount", "reason", "restock", "created_at")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "display_number",
        "brand",
        "sales_channel",
        "store",
        "customer",
        "total",
        "status",
        "placed_at",
    )
    list_filter = ("brand", "sales_channel", "status")
    search_fields = ("name", "external_id", "contact_phone", "contact_email")
    date_hierarchy = "placed_at"
    raw_id_fields = ("customer", "staff", "store", "pickup_store")
    inlines = [LineInline, RefundInline]
