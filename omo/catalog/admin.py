from django.contrib import admin

from omo.catalog.models import Category, Location, Product, ProductImage, StockLevel, StockMovement, Variant


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ("sku", "barcode", "title", "price", "compare_at_price", "is_active")


class ImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("file", "url", "alt", "sort_order")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "brand", "category", "status", "updated_at")
    list_filter = ("brand", "status", "category")
    search_fields = ("title", "title_en", "handle", "variants__sku")
    inlines = [VariantInline, ImageInline]

    def save_formset(self, request, form, formset, change):
        # inline rows inherit the product's brand
        for instance in formset.save(commit=False):
            instance.brand_id = form.instance.brand_id
            instance.save()
        formset.save_m2m()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "slug", "parent", "sort_order")
    list_filter = ("brand",)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "brand", "kind", "store", "ships_online_orders", "is_active")
    list_filter = ("brand", "kind")


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ("variant", "location", "on_hand", "reserved", "updated_at")
    list_filter = ("brand", "location")
    search_fields = ("variant__sku",)
    readonly_fields = ("on_hand", "reserved")  # changed only through the inventory services


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "variant",
        "location",
        "on_hand_delta",
        "reserved_delta",
        "reason",
        "reference",
    )
    list_filter = ("brand", "reason")

    def has_change_permission(self, request, obj=None):
        return False
