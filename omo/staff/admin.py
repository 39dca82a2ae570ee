from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from omo.staff.models import Store, User


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "brand", "city", "phone", "is_active")
    list_filter = ("brand", "city", "is_active")
    search_fields = ("code", "name", "address")


@admin.register(User)
class StaffAdmin(UserAdmin):
    list_display = ("username", "display_name", "brand", "role", "store", "employee_code", "is_active")
    list_filter = ("brand", "role", "is_active")
    search_fields = ("username", "display_name", "employee_code", "email")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        (
            "omo",
            {
                "fields": (
                    "brand",
                    "role",
                    "store",
                    "display_name",
                    "employee_code",
                    "photo_url",
                    "phone",
                    "preferred_language",
                )
            },
        ),
    )
