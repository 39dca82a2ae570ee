from django.contrib import admin

from omo.tracking.models import TrackedEvent, TrackingSource


@admin.register(TrackingSource)
class TrackingSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("brand",)
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")


@admin.register(TrackedEvent)
class TrackedEventAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "brand", "type", "event", "user_id", "anonymous_id", "customer", "source")
    list_filter = ("brand", "type")
    search_fields = ("=message_id", "=user_id", "=anonymous_id", "event")
    raw_id_fields = ("customer", "source")
    list_select_related = ("brand", "customer", "source")
    show_full_result_count = False  # the table is large; skip the unfiltered COUNT(*)
