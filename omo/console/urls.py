"""The HQ console under /console/."""

from __future__ import annotations

from django.urls import path

from omo.console.views import auth, brand_settings, catalog, customers, dashboard, imports, loyalty, orders
from omo.console.views import bindings as binding_views
from omo.console.views import catalog_edit as catalog_edit_views
from omo.console.views import catalog_settings as catalog_settings_views
from omo.console.views import commission as commission_views
from omo.console.views import leaderboard as leaderboard_views
from omo.console.views import merges as merge_views
from omo.console.views import message_usage as message_usage_views
from omo.console.views import platform_accounts as platform_account_views
from omo.console.views import predictions as predictions_views
from omo.console.views import privacy as privacy_views
from omo.console.views import rules as rules_views
from omo.console.views import segment_groups as segment_group_views
from omo.console.views import segments as segment_views
from omo.console.views import shopify as shopify_views
from omo.console.views import staff_settings as staff_settings_views
from omo.console.views import till as till_views
from omo.console.views import tracking_sources as tracking_source_views
from omo.console.views import webhooks as webhook_views
from omo.console.views.analytics import members as analytics_members
from omo.console.views.analytics import pages as analytics_pages
from omo.console.views.inbox import canned as canned_views
from omo.console.views.inbox import conversation as conversation_views
from omo.console.views.inbox import listing as inbox_list_views
from omo.console.views.inbox import roster as roster_views
from omo.console.views.inbox import team as team_views

app_name = "console"

urlpatterns = [
    path("login/", auth.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
    path("inbox/", inbox_list_views.inbox, name="inbox"),
    path("inbox/<int:pk>/", conversation_views.conversation_detail, name="inbox_conversation"),
    path("inbox/<int:pk>/reply/", conversation_views.conversation_reply, name="inbox_reply"),
    path("inbox/<int:pk>/note/", conversation_views.conversation_note, name="inbox_note"),
    path("inbox/<int:pk>/retry/<int:message_id>/", conversation_views.conversation_retry, name="inbox_retry"),
    path("inbox/<int:pk>/labels/", conversation_views.conversation_labels, name="inbox_labels"),
    path("inbox/<int:pk>/assign/", conversation_views.conversation_assign, name="inbox_assign"),
    path("inbox/<int:pk>/status/", conversation_views.conversation_status, name="inbox_status"),
    path("inbox/team/", team_views.team, name="inbox_team"),
    path("inbox/roster/", roster_views.roster, name="inbox_roster"),
    path("inbox/roster/import/", roster_views.roster_import, name="inbox_roster_import"),
    path("inbox/roster/<int:pk>/delete/", roster_views.shift_delete, name="inbox_shift_delete"),
    path("inbox/canned/", canned_views.canned_list, name="inbox_canned"),
    path("inbox/canned/<int:pk>/", canned_views.canned_edit, name="inbox_canned_edit"),
    path("inbox/canned/<int:pk>/delete/", canned_views.canned_delete, name="inbox_canned_delete"),
    path("leaderboard/", leaderboard_views.leaderboard_page, name="leaderboard"),
    path("analytics/omo/", analytics_pages.omo_page, name="analytics_omo"),
    path("analytics/pareto/", analytics_pages.pareto_page, name="analytics_pareto"),
    path("analytics/rfm/", analytics_pages.rfm_page, name="analytics_rfm"),
    path("analytics/rfm/members/", analytics_members.rfm_members, name="analytics_rfm_members"),
    path("analytics/cohorts/", analytics_pages.cohorts_page, name="analytics_cohorts"),
    path("analytics/bindings/", analytics_pages.bindings_page, name="analytics_bindings"),
    path("analytics/funnel/", analytics_pages.funnel_page, name="analytics_funnel"),
    path("analytics/lifecycle/", analytics_pages.lifecycle_page, name="analytics_lifecycle"),
    path("commission/", commission_views.commission_statements, name="commission_statements"),
    path(
        "commission/<int:staff_id>/",
        commission_views.commission_statement_detail,
        name="commission_statement_detail",
    ),
    path("cost/", message_usage_views.message_usage, name="message_usage"),
    path("segments/", segment_views.segment_list, name="segments"),
    path("segments/new/", segment_views.segment_create, name="segment_create"),
    path("segments/preview/", segment_views.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segment_views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", segment_views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", segment_views.segment_delete, name="segment_delete"),
    path("segments/<int:pk>/list/", segment_views.segment_upload, name="segment_upload"),
    path("segments/predictions/", predictions_views.predictions, name="segment_predictions"),
    path("segments/predictions/refit/", predictions_views.refit, name="segment_predictions_refit"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/<int:pk>/", orders.order_detail, name="order_detail"),
    path("orders/<int:pk>/pay/", orders.order_pay, name="order_pay"),
    path("orders/<int:pk>/fulfil/", orders.order_fulfil, name="order_fulfil"),
    path("orders/<int:pk>/cancel/", orders.order_cancel, name="order_cancel"),
    path("orders/<int:pk>/refund/", orders.order_refund, name="order_refund"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/merges/", merge_views.merge_queue, name="merge_queue"),
    path("customers/merges/<int:pk>/merge/", merge_views.suggestion_merge, name="merge_suggestion_merge"),
    path(
        "customers/merges/<int:pk>/dismiss/", merge_views.suggestion_dismiss, name="merge_suggestion_dismiss"
    ),
    path("customers/merges/history/", merge_views.merge_history, name="merge_history"),
    path("customers/merges/history/<int:pk>/split/", merge_views.merge_split, name="merge_split"),
    path("customers/<int:pk>/privacy/", privacy_views.customer_privacy, name="customer_privacy"),
    path("customers/<int:pk>/consent/", privacy_views.customer_consent, name="customer_consent"),
    path("customers/<int:pk>/export/", privacy_views.customer_export, name="customer_export"),
    path("customers/<int:pk>/erase/", privacy_views.customer_erase, name="customer_erase"),
    path("settings/privacy/", privacy_views.privacy_settings, name="privacy_settings"),
    path("segments/groups/", segment_group_views.segment_groups, name="segment_groups"),
    path(
        "segments/groups/refresh/", segment_group_views.segment_groups_refresh, name="segment_groups_refresh"
    ),
    path("settings/catalog/", catalog_settings_views.catalog_settings, name="catalog_settings"),
    path("products/", catalog.product_list, name="products"),
    path("products/new/", catalog_edit_views.product_create, name="product_create"),
    path("products/<int:pk>/", catalog.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", catalog_edit_views.product_edit, name="product_edit"),
    path("products/<int:pk>/variants/new/", catalog_edit_views.variant_create, name="variant_create"),
    path(
        "products/<int:pk>/variants/<int:variant_pk>/", catalog_edit_views.variant_edit, name="variant_edit"
    ),
    path("products/<int:pk>/images/new/", catalog_edit_views.image_add, name="image_add"),
    path(
        "products/<int:pk>/images/<int:image_pk>/remove/",
        catalog_edit_views.image_remove,
        name="image_remove",
    ),
    path("products/<int:pk>/stock/", catalog_edit_views.stock_change, name="product_stock"),
    path("stock/", catalog.stock_list, name="stock"),
    path("loyalty/tiers/", loyalty.tier_list, name="tiers"),
    path("loyalty/coupons/", loyalty.coupon_list, name="coupons"),
    path("loyalty/coupons/<int:pk>/", loyalty.coupon_detail, name="coupon_detail"),
    path("loyalty/till/", till_views.till_list, name="till_redemptions"),
    path("imports/", imports.import_list, name="imports"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress.json", imports.import_progress, name="import_progress"),
    path("settings/stores/", brand_settings.store_list, name="stores"),
    path("settings/stores/new/", staff_settings_views.store_create, name="store_create"),
    path("settings/stores/<int:pk>/", staff_settings_views.store_edit, name="store_edit"),
    path("settings/staff/", brand_settings.staff_list, name="staff"),
    path("settings/staff/new/", staff_settings_views.staff_create, name="staff_create"),
    path("settings/staff/<int:pk>/", staff_settings_views.staff_edit, name="staff_edit"),
    path("settings/staff/<int:pk>/transfer/", binding_views.staff_transfer, name="staff_transfer"),
    path("bindings/transfers/", binding_views.transfer_list, name="binding_transfers"),
    path("bindings/transfers/<int:pk>/undo/", binding_views.transfer_undo, name="binding_transfer_undo"),
    path("bindings/recovery/", binding_views.recovery, name="binding_recovery"),
    path("settings/api-keys/", brand_settings.api_key_list, name="api_keys"),
    path("settings/api-keys/new/", brand_settings.api_key_create, name="api_key_create"),
    path("settings/api-keys/<int:pk>/revoke/", brand_settings.api_key_revoke, name="api_key_revoke"),
    path("settings/audit/", brand_settings.audit_list, name="audit"),
    path("settings/binding/", rules_views.binding_settings, name="rules_binding"),
    path("settings/attribution/", rules_views.attribution_settings, name="rules_attribution"),
    path("settings/commission/", commission_views.commission_rules_page, name="commission_rules"),
    path("settings/commission/<int:pk>/", commission_views.commission_rule_edit, name="commission_rule_edit"),
    path(
        "settings/commission/<int:pk>/delete/",
        commission_views.commission_rule_delete,
        name="commission_rule_delete",
    ),
    path("settings/inbox/", rules_views.inbox_settings, name="rules_inbox"),
    path("settings/inbox/stores/<int:pk>/", rules_views.store_hours, name="rules_store_hours"),
    path("settings/loyalty/", rules_views.loyalty_settings, name="rules_loyalty"),
    path("settings/loyalty/tiers/<int:pk>/", rules_views.tier_edit, name="rules_tier"),
    path("settings/loyalty/tiers/<int:pk>/delete/", rules_views.tier_delete, name="rules_tier_delete"),
    path("settings/tracking/", tracking_source_views.source_list, name="tracking_sources"),
    path("settings/tracking/new/", tracking_source_views.source_create, name="tracking_source_create"),
    path(
        "settings/tracking/<int:pk>/revoke/",
        tracking_source_views.source_revoke,
        name="tracking_source_revoke",
    ),
    path("settings/shopify/", shopify_views.shopify_list, name="shopify"),
    path("settings/shopify/new/", shopify_views.shopify_create, name="shopify_create"),
    path("settings/shopify/<int:pk>/", shopify_views.shopify_detail, name="shopify_detail"),
    path("settings/shopify/<int:pk>/sync/", shopify_views.shopify_sync, name="shopify_sync"),
    path("settings/shopify/<int:pk>/retry/", shopify_views.shopify_retry, name="shopify_retry"),
    path(
        "settings/shopify/<int:pk>/privacy/<int:request_pk>/resolve/",
        shopify_views.shopify_privacy_resolve,
        name="shopify_privacy_resolve",
    ),
    path("settings/platforms/", platform_account_views.account_list, name="platform_accounts"),
    path("settings/platforms/new/", platform_account_views.account_create, name="platform_account_create"),
    path(
        "settings/platforms/<int:pk>/", platform_account_views.account_detail, name="platform_account_detail"
    ),
    path(
        "settings/platforms/<int:pk>/rotate/",
        platform_account_views.account_rotate,
        name="platform_account_rotate",
    ),
    path(
        "settings/platforms/<int:pk>/webhook/",
        platform_account_views.account_webhook,
        name="platform_account_webhook",
    ),
    path(
        "settings/platforms/<int:pk>/disconnect/",
        platform_account_views.account_disconnect,
        name="platform_account_disconnect",
    ),
    path(
        "settings/platforms/<int:pk>/reconnect/",
        platform_account_views.account_reconnect,
        name="platform_account_reconnect",
    ),
    path(
        "settings/platforms/<int:pk>/quarantine/<str:kind>/<int:row_id>/<str:action>/",
        platform_account_views.account_quarantine,
        name="platform_account_quarantine",
    ),
    path("settings/webhooks/", webhook_views.webhook_list, name="webhooks"),
    path("settings/webhooks/new/", webhook_views.webhook_create, name="webhook_create"),
    path("settings/webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook_detail"),
    path("settings/webhooks/<int:pk>/pause/", webhook_views.webhook_pause, name="webhook_pause"),
    path("settings/webhooks/<int:pk>/resume/", webhook_views.webhook_resume, name="webhook_resume"),
    path("settings/webhooks/<int:pk>/test/", webhook_views.webhook_test, name="webhook_test"),
    path("settings/webhooks/<int:pk>/rotate/", webhook_views.webhook_rotate, name="webhook_rotate"),
    path("settings/webhooks/<int:pk>/delete/", webhook_views.webhook_delete, name="webhook_delete"),
    path(
        "settings/webhooks/<int:pk>/deliveries/<int:delivery_pk>/",
        webhook_views.webhook_delivery,
        name="webhook_delivery",
    ),
    path(
        "settings/webhooks/<int:pk>/deliveries/<int:delivery_pk>/redeliver/",
        webhook_views.webhook_redeliver,
        name="webhook_redeliver",
    ),
]
