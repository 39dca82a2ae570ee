"""Binding verbs: clerk codes and their links (`codes`), binding and unbinding under the brand's
policy (`bindings`), binding from a scan, by LIFF or the prefilled message (`scans`), what the
customer is told (`replies`), transfers (`transfers`), recovery by phone (`recovery`). This
package's face is what callers use; the modules are its parts.

Every verb owns its transaction; events (`binding.created`, `binding.ended`) and socket pushes run
after commit (omo.core.events). A binding change re-routes the customer's conversations at once,
in the same transaction, so the next message goes to the right person. The inbox sits above
binding: what binding needs of the chat (routing, the LINE account, sending) it asks through
omo/binding/chat.py, and the inbound handlers for the "#<code>" message and the recovery
postbacks live in the inbox (omo/inbox/binding_flows.py), which sends the replies these verbs
word.
"""

from __future__ import annotations

from omo.binding.services.bindings import (
    BindResult,
    Outcome,
    bind_customer,
    end_binding,
    hand_to_store,
)
from omo.binding.services.codes import (
    PREFILL_TEXT,
    add_friend_url,
    basic_id_of,
    binding_url,
    clerk_code_for,
    liff_id_of,
    liff_ready,
    liff_url,
    line_inbox_of,
    link_target,
    prefilled_message_url,
    shop_liff_url,
)
from omo.binding.services.errors import BindingError
from omo.binding.services.notices import notify_customer, store_team_notice, transfer_notice
from omo.binding.services.policy import update_policy
from omo.binding.services.recovery import (
    CONFIRM_PREFIX,
    DECLINE_PREFIX,
    RECOVERY_DAYS,
    answer_recovery,
    check_policy_allows,
    customers_by_phone,
    expire_recoveries,
    find_customer_by_phone,
    recover_by_phone,
    request_recovery,
)
from omo.binding.services.replies import (
    UNKNOWN_CODE_MESSAGE,
    Answer,
    customer_message,
    departed_message,
)
from omo.binding.services.scans import (
    CODE_IN_TEXT,
    LiffBindResult,
    answer_code_message,
    bind_via_liff,
    line_shopper,
)
from omo.binding.services.transfers import (
    UNDO_DAYS,
    UndoResult,
    plan_spread,
    spread_targets,
    transfer_bindings,
    undo_transfer,
)

__all__ = [
    "CODE_IN_TEXT",
    "CONFIRM_PREFIX",
    "DECLINE_PREFIX",
    "PREFILL_TEXT",
    "RECOVERY_DAYS",
    "UNDO_DAYS",
    "update_policy",
    "UNKNOWN_CODE_MESSAGE",
    "Answer",
    "BindResult",
    "BindingError",
    "LiffBindResult",
    "Outcome",
    "add_friend_url",
    "answer_code_message",
    "answer_recovery",
    "basic_id_of",
    "bind_customer",
    "bind_via_liff",
    "binding_url",
    "clerk_code_for",
    "customer_message",
    "departed_message",
    "end_binding",
    "expire_recoveries",
    "find_customer_by_phone",
    "hand_to_store",
    "liff_id_of",
    "liff_ready",
    "liff_url",
    "line_inbox_of",
    "line_shopper",
    "link_target",
    "prefilled_message_url",
    "request_recovery",
    "recover_by_phone",
    "check_policy_allows",
    "customers_by_phone",
    "notify_customer",
    "store_team_notice",
    "transfer_notice",
    "UndoResult",
    "plan_spread",
    "spread_targets",
    "shop_liff_url",
    "transfer_bindings",
    "undo_transfer",
]
