from django.contrib import admin

from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "brand", "is_active", "consecutive_failures", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    # Secrets are managed in the console (shown once, rotatable), never here.
    exclude = ("secret_encrypted", "previous_secret_encrypted")
    readonly_fields = ("secret_hint", "secret_rotated_at", "paused_at", "last_success_at", "last_failure_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event_id", "topic", "endpoint", "status", "attempts", "response_status", "created_at")
    list_filter = ("status", "topic")
    search_fields = ("event_id",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
