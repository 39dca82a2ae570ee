"""The audit log in words: each recorded action as a sentence in the page's language.

Services record stable codes (`product.updated`), which the API returns for programs; a person sees
the sentence. `omo/console/tests/test_audit_text.py` reads every `audit.record(...)` call in the
product and fails for an action missing here, so a new action comes with its words.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import pgettext, pgettext_lazy

ACTIONS: dict[str, Promise] = {
    "api_key.created": pgettext_lazy("audit", "建立 API 金鑰"),
    "api_key.revoked": pgettext_lazy("audit", "撤銷 API 金鑰"),
    "attribution_settings.changed": pgettext_lazy("audit", "變更業績歸屬規則"),
    "binding.ended": pgettext_lazy("audit", "結束顧客與店員的綁定"),
    "binding.recovery_requested": pgettext_lazy("audit", "以電話補綁顧客"),
    "binding.transfer_undone": pgettext_lazy("audit", "復原顧客轉移"),
    "binding.transferred": pgettext_lazy("audit", "轉移顧客給其他店員"),
    "binding_policy.changed": pgettext_lazy("audit", "變更綁定規則"),
    "brand.created": pgettext_lazy("audit", "建立品牌"),
    "catalog.line_images_requested": pgettext_lazy("audit", "開始補做商品的 LINE 圖片"),
    "category.created": pgettext_lazy("audit", "新增商品分類"),
    "category.updated": pgettext_lazy("audit", "修改商品分類"),
    "consent.recorded": pgettext_lazy("audit", "記錄顧客同意"),
    "coupon.code_added": pgettext_lazy("audit", "新增優惠券代碼"),
    "coupon.codes_issued": pgettext_lazy("audit", "發放優惠券代碼"),
    "coupon.created": pgettext_lazy("audit", "建立優惠券"),
    "customer.consent_viewed": pgettext_lazy("audit", "查閱顧客同意紀錄"),
    "customer.created": pgettext_lazy("audit", "新增顧客"),
    "customer.erased": pgettext_lazy("audit", "刪除顧客個人資料"),
    "customer.exported": pgettext_lazy("audit", "匯出顧客個人資料"),
    "customer.merged": pgettext_lazy("audit", "合併顧客"),
    "customer.split": pgettext_lazy("audit", "拆分已合併的顧客"),
    "customer.updated": pgettext_lazy("audit", "修改顧客資料"),
    "customer.viewed": pgettext_lazy("audit", "查閱顧客資料"),
    "customer_settings.retention_changed": pgettext_lazy("audit", "變更個資保存期限"),
    "import.created": pgettext_lazy("audit", "開始 CSV 匯入"),
    "predictions.refit_requested": pgettext_lazy("audit", "要求立即重新計算預測顧客價值"),
    "inbox.conversation_assigned": pgettext_lazy("audit", "指派對話"),
    "inbox.disconnected": pgettext_lazy("audit", "中斷平台帳號連線"),
    "inbox.line_connected": pgettext_lazy("audit", "連接 LINE 官方帳號"),
    "inbox.line_rotated": pgettext_lazy("audit", "更換 LINE 頻道密鑰與權杖"),
    "inbox.line_webhook_set": pgettext_lazy("audit", "設定 LINE Webhook 網址"),
    "inbox.reconnected": pgettext_lazy("audit", "重新連接平台帳號"),
    "inbox.updated": pgettext_lazy("audit", "修改平台帳號設定"),
    "inbox_settings.sla_changed": pgettext_lazy("audit", "變更回覆時限"),
    "loyalty_program.changed": pgettext_lazy("audit", "變更點數規則"),
    "merge_suggestion.dismissed": pgettext_lazy("audit", "略過合併建議"),
    "order.cancelled": pgettext_lazy("audit", "取消訂單"),
    "order.fulfilled": pgettext_lazy("audit", "訂單出貨"),
    "order.paid": pgettext_lazy("audit", "標記訂單已付款"),
    "order.placed": pgettext_lazy("audit", "建立訂單"),
    "order.recorded": pgettext_lazy("audit", "匯入訂單"),
    "order.refunded": pgettext_lazy("audit", "訂單退款"),
    "order.viewed": pgettext_lazy("audit", "查閱訂單"),
    "points.adjusted": pgettext_lazy("audit", "調整顧客點數"),
    "scores.refresh_requested": pgettext_lazy("audit", "要求重新計算顧客分群與 RFM 分數"),
    "product.created": pgettext_lazy("audit", "新增商品"),
    "product.image_added": pgettext_lazy("audit", "新增商品圖片"),
    "product.image_removed": pgettext_lazy("audit", "移除商品圖片"),
    "product.updated": pgettext_lazy("audit", "修改商品"),
    "roster.shift_created": pgettext_lazy("audit", "新增班表時段"),
    "roster.shift_deleted": pgettext_lazy("audit", "刪除班表時段"),
    "roster.shift_updated": pgettext_lazy("audit", "修改班表時段"),
    "segment.created": pgettext_lazy("audit", "建立分眾"),
    "segment.deleted": pgettext_lazy("audit", "刪除分眾"),
    "segment.list_uploaded": pgettext_lazy("audit", "上傳分眾名單"),
    "segment.updated": pgettext_lazy("audit", "修改分眾"),
    "shopify.connected": pgettext_lazy("audit", "連接 Shopify 商店"),
    "shopify.privacy_resolved": pgettext_lazy("audit", "處理 Shopify 個資請求"),
    "shopify.reinstalled": pgettext_lazy("audit", "重新安裝 Shopify 應用程式"),
    "shopify.sync_requested": pgettext_lazy("audit", "要求同步 Shopify"),
    "shopify.uninstalled": pgettext_lazy("audit", "Shopify 應用程式已移除"),
    "shopify.updated": pgettext_lazy("audit", "修改 Shopify 連線"),
    "shopify.webhooks_retried": pgettext_lazy("audit", "重試 Shopify Webhook"),
    "staff.created": pgettext_lazy("audit", "新增員工"),
    "staff.deactivated": pgettext_lazy("audit", "停用員工"),
    "staff.updated": pgettext_lazy("audit", "修改員工資料"),
    "store.created": pgettext_lazy("audit", "新增門市"),
    "store.deactivated": pgettext_lazy("audit", "停用門市"),
    "store.opening_hours_changed": pgettext_lazy("audit", "變更門市營業時間"),
    "store.updated": pgettext_lazy("audit", "修改門市資料"),
    "tier.changed": pgettext_lazy("audit", "變更會員等級"),
    "tier.created": pgettext_lazy("audit", "新增會員等級"),
    "tier.deleted": pgettext_lazy("audit", "刪除會員等級"),
    "tracking_source.created": pgettext_lazy("audit", "建立追蹤來源"),
    "tracking_source.revoked": pgettext_lazy("audit", "撤銷追蹤來源"),
    "variant.created": pgettext_lazy("audit", "新增商品規格"),
    "variant.updated": pgettext_lazy("audit", "修改商品規格"),
    "webhook.auto_paused": pgettext_lazy("audit", "Webhook 連續失敗，已自動暫停"),
    "webhook.created": pgettext_lazy("audit", "新增 Webhook"),
    "webhook.deleted": pgettext_lazy("audit", "刪除 Webhook"),
    "webhook.paused": pgettext_lazy("audit", "暫停 Webhook"),
    "webhook.redelivered": pgettext_lazy("audit", "重新傳送 Webhook"),
    "webhook.resumed": pgettext_lazy("audit", "恢復 Webhook"),
    "webhook.secret_rotated": pgettext_lazy("audit", "更換 Webhook 簽章密鑰"),
    "webhook.test_sent": pgettext_lazy("audit", "傳送 Webhook 測試"),
    "webhook.updated": pgettext_lazy("audit", "修改 Webhook"),
    "commission_rule.created": pgettext_lazy("audit", "新增分潤規則"),
    "commission_rule.changed": pgettext_lazy("audit", "修改分潤規則"),
    "commission_rule.deleted": pgettext_lazy("audit", "刪除分潤規則"),
    "coupon.redeemed_at_till": pgettext_lazy("audit", "門市收銀使用優惠券"),
    "coupon.reversed_at_till": pgettext_lazy("audit", "門市收銀退回優惠券"),
    "inbox.conversation_closed": pgettext_lazy("audit", "結案對話"),
    "inbox.conversation_reopened": pgettext_lazy("audit", "重新開啟對話"),
    "inbox.webhook_discarded": pgettext_lazy("audit", "捨棄無法處理的 Webhook"),
    "inbox.webhook_retried": pgettext_lazy("audit", "重試無法處理的 Webhook"),
    "points.redeemed_at_till": pgettext_lazy("audit", "門市收銀折抵點數"),
    "points.reversed_at_till": pgettext_lazy("audit", "門市收銀退回點數"),
}


def action_text(action: str) -> str:
    """The sentence for an action; one not known here is named as such, never shown bare."""
    known = ACTIONS.get(action)
    if known is not None:
        return str(known)
    return pgettext("audit", "其他動作")


def actor_text(label: str) -> str:
    """Who acted, from the label recorded with the entry (the user, when kept, is shown instead)."""
    kind, _, name = label.partition(":")
    if kind == "api_key" and name:
        return pgettext("audit", "API 金鑰 %(prefix)s") % {"prefix": name}
    if kind == "user" and name:
        return name
    if label == "system":
        return pgettext("audit", "系統")
    return label


@functools.cache
def _choice_labels() -> dict[str, Any]:
    """Every stored choice value of the product's models, with its label (the first one found)."""
    labels: dict[str, Any] = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.Field) and field.choices:
                for value, label in field.flatchoices:
                    if isinstance(value, str) and value and value not in labels:
                        labels[value] = label
    return labels


def _in_words(value: Any) -> Any:
    if isinstance(value, str):
        label = _choice_labels().get(value)
        return str(label) if label is not None else value
    if isinstance(value, list):
        return [_in_words(item) for item in value]
    if isinstance(value, dict):
        return {key: _in_words(item) for key, item in value.items()}
    return value


def detail_text(detail: Any) -> str:
    """An entry's recorded facts as compact JSON, with stored codes (a coupon's kind, an order's
    status) said by their labels in the page's language."""
    if detail in (None, "", {}, []):
        return ""
    return json.dumps(_in_words(detail), ensure_ascii=False, sort_keys=True, default=str)


def target_text(target_type: str, target_id: str) -> str:
    """ "商品 #12" for `catalog.product` 12; "—" when the action had no target."""
    if not target_type:
        return "—"
    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        name = pgettext("audit", "項目")
    else:
        name = str(model._meta.verbose_name)
    return f"{name} #{target_id}" if target_id else name
