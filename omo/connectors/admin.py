from django.contrib import admin

from omo.connectors.models import PrivacyRequest, ShopifyConnection, ShopifyRecord, ShopifyWebhook


@admin.register(ShopifyConnection)
class ShopifyConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "shop_domain",
        "brand",
        "api_version",
        "is_active",
        "sync_status",
        "last_synced_at",
    )
    list_filter = ("is_active", "sync_status")
    search_fields = ("name", "shop_domain")
    # The token and webhook secret are set in the console (encrypted, never shown again), not here.
    exclude = ("secrets",)
    readonly_fields = ("sync_status", "sync_error", "last_synced_at", "last_sync_counts")


@admin.register(ShopifyWebhook)
class ShopifyWebhookAdmin(admin.ModelAdmin):
    list_display = ("topic", "webhook_id", "connection", "status", "received_at", "processed_at")
    list_filter = ("status", "topic")
    search_fields = ("webhook_id", "event_id", "order_ref")
    readonly_fields = [field.name for field in ShopifyWebhook._meta.fields]


@admin.register(ShopifyRecord)
class ShopifyRecordAdmin(admin.ModelAdmin):
    list_display = ("kind", "shopify_id", "connection", "updated_at", "local_id")
    list_filter = ("kind",)
    search_fields = ("shopify_id",)
    readonly_fields = [field.name for field in ShopifyRecord._meta.fields]


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    list_display = ("kind", "connection", "shopify_customer_id", "customer", "status", "created_at")
    list_filter = ("kind", "status")
    raw_id_fields = ("customer",)
    readonly_fields = ("connection", "webhook", "kind", "shopify_customer_id", "email", "phone", "created_at")
