from django.contrib import admin

from omo.customers.models import Customer, CustomerIdentity


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    extra = 0
    fields = ("kind", "value", "verified", "source")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "phone", "email", "member_number", "brand", "home_store", "created_at")
    list_filter = ("brand",)
    search_fields = ("name", "phone", "email", "member_number")
    inlines = [IdentityInline]
