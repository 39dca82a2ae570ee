from django.contrib import admin
from django.http import HttpRequest

from omo.core.models import ApiKey, AuditLog, Brand, ImportJob, WorkerHeartbeat


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin[Brand]):
    list_display = ("name", "slug", "currency", "country", "time_zone", "created_at")
    search_fields = ("name", "slug")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("name", "brand", "prefix", "role", "created_at", "last_used_at", "revoked_at")
    list_filter = ("brand", "role")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin[AuditLog]):
    list_display = ("created_at", "brand", "actor_label", "action", "target_type", "target_id", "ip_address")
    list_filter = ("brand", "action")
    search_fields = ("actor_label", "action", "target_id")

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False  # the audit log is append-only

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin[ImportJob]):
    list_display = (
        "id",
        "brand",
        "kind",
        "mode",
        "status",
        "total_rows",
        "applied_rows",
        "error_rows",
        "created_at",
    )
    list_filter = ("brand", "kind", "status")
    exclude = ("content",)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin[WorkerHeartbeat]):
    list_display = ("worker_id", "hostname", "pid", "started_at", "last_seen_at")
