/* omo clerk app: live conversation list and chat over /ws/inbox/, sending, retry, product picker, carts.
   No framework and no CDN: plain DOM, fetch and WebSocket. */
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  // The page's words, in the signed-in person's language (clerk_tags.clerk_strings).
  const stringsNode = document.getElementById("clerk-strings");
  const T = stringsNode ? JSON.parse(stringsNode.textContent) : {};
  const STATUS = {queued: T.queued, sent: T.sent, failed: T.failed, received: ""};
  const LOCALE = body.dataset.lang === "en" ? "en" : "zh-TW";

  // The visible height, which shrinks when the on-screen keyboard opens (iOS keeps the layout
  // viewport and only resizes the visual one), as --app-height for the chat layout.
  function trackViewport() {
    const viewport = window.visualViewport;
    const apply = () => {
      const height = viewport ? viewport.height : window.innerHeight;
      document.documentElement.style.setProperty("--app-height", `${Math.round(height)}px`);
      if (viewport && viewport.offsetTop) window.scrollTo(0, 0);
      document.dispatchEvent(new CustomEvent("clerk:viewport"));
    };
    (viewport || window).addEventListener("resize", apply);
    apply();
  }
  trackViewport();

  if ("serviceWorker" in navigator && body.dataset.sw) {
    navigator.serviceWorker.register(body.dataset.sw, {scope: body.dataset.scope}).catch(() => undefined);
  }

  function csrf() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      body: JSON.stringify(data || {}),
    });
    let payload = {};
    try { payload = await response.json(); } catch (e) { payload = {error: response.statusText}; }
    if (!response.ok) throw new Error(payload.error || ("HTTP " + response.status));
    return payload;
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (value === undefined || value === null) return;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "class" || key === "href" || key === "src" || key === "alt" || key === "type" || key === "target" || key === "rel" || key === "value") node.setAttribute(key, value);
      else node[key] = value;
    });
    (children || []).forEach((child) => child && node.appendChild(child));
    return node;
  }

  function waited(since) {
    if (!since) return "";
    const minutes = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 60000));
    return minutes < 60 ? T.waited_minutes.replace("__N__", minutes) : T.waited_hours.replace("__N__", Math.floor(minutes / 60));
  }

  // --- the socket --------------------------------------------------------------------------------
  const live = document.querySelector("[data-testid=live-state]");
  function setLive(state, text) {
    if (!live) return;
    live.dataset.state = state;
    live.textContent = text;
  }

  function connect(onEvent, subscriptions) {
    let retryIn = 1000;
    function open() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/inbox/`);
      socket.onopen = () => {
        retryIn = 1000;
        subscriptions.forEach((message) => socket.send(JSON.stringify(message)));
      };
      socket.onmessage = (event) => {
        let data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        if (data.type === "subscribed") {
          setLive("live", T.live);
          onEvent({type: "live"});
        } else if (data.type === "error") setLive("error", data.message || "error");
        else onEvent(data);
      };
      socket.onclose = () => {
        setLive("offline", T.reconnecting);
        setTimeout(open, retryIn);
        retryIn = Math.min(retryIn * 2, 15000);
        onEvent({type: "reconnect"});
      };
    }
    open();
  }

  // --- home: my conversations --------------------------------------------------------------------
  function renderList(rows) {
    const list = document.getElementById("conversations");
    list.replaceChildren();
    if (!rows.length) {
      list.appendChild(el("li", {class: "empty", "data-testid": "no-conversations", text: T.no_chats}));
      return;
    }
    rows.forEach((row) => {
      const link = el("a", {href: row.url}, [
        el("strong", {class: "name", text: row.name || T.customer}),
        el("span", {class: "preview", text: row.last_message_preview || ""}),
        row.unread_count ? el("span", {class: "badge", "data-testid": "unread", text: String(row.unread_count)}) : null,
        el("span", {class: "waiting", text: waited(row.waiting_since)}),
      ]);
      list.appendChild(el("li", {"data-id": row.id, "data-testid": "conversation-row"}, [link]));
    });
  }

  if (page === "home") {
    const refresh = async () => {
      const response = await fetch(body.dataset.listUrl, {credentials: "same-origin"});
      if (response.ok) renderList((await response.json()).conversations);
    };
    document.querySelectorAll(".waiting").forEach((node) => { node.textContent = waited(node.dataset.since); });
    // A delivery state (message.updated) does not change the list.
    connect((event) => { if (event.type !== "message.updated") refresh(); }, [{type: "subscribe.list"}]);
    setInterval(() => document.querySelectorAll("#conversations li").length && refresh(), 60000);
  }

  // --- chat ----------------------------------------------------------------------------------------
  if (page === "chat") {
    const conversationId = Number(body.dataset.conversation);
    const timeline = document.getElementById("timeline");
    const byId = new Map();  // message id → its node
    const known = new Map();  // message id → what we know of it (a delivery event may come first)
    const DELIVERY = ["status", "failure_reason", "sent_via", "sent_at"];
    const VIA = {reply: T.via_reply, push: T.via_push};
    // Delivery states arrive over the socket (message.updated). The server says whether the worker's
    // events reach this page; when they do not, or while the socket is down, the page reads them.
    const statusPush = body.dataset.statusPush === "1";
    let socketLive = false;
    let dropped = false;

    // Newest message in view: follow new messages while the clerk is at the bottom; once they
    // scroll up to read, a button offers the way back instead of pulling them down.
    const newBelow = document.getElementById("new-below");
    let stuckToBottom = true;
    function scrollToNewest() {
      timeline.scrollTop = timeline.scrollHeight;
      stuckToBottom = true;
      newBelow.hidden = true;
    }
    timeline.addEventListener("scroll", () => {
      stuckToBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 48;
      if (stuckToBottom) newBelow.hidden = true;
    }, {passive: true});
    newBelow.querySelector("button").addEventListener("click", scrollToNewest);
    // The keyboard opening shrinks the timeline: keep the newest message above the composer.
    document.addEventListener("clerk:viewport", () => { if (stuckToBottom) scrollToNewest(); });
    if (window.ResizeObserver) new ResizeObserver(() => { if (stuckToBottom) scrollToNewest(); }).observe(timeline);

    function renderMessage(message) {
      const item = el("li", {
        class: `msg ${message.direction}`, "data-testid": "message", "data-id": message.id,
        "data-direction": message.direction, "data-kind": message.kind, "data-status": message.status,
      });
      if (message.kind === "flex" && message.cards && message.cards.length) {
        const cards = el("div", {class: "cards", "data-testid": "sent-cards", "aria-label": T.cards_alt});
        message.cards.forEach((card) => cards.appendChild(el("div", {class: "product-card", "data-testid": "sent-card"}, [
          card.image_url ? el("img", {src: card.image_url, alt: "", loading: "lazy"}) : null,
          el("strong", {text: card.title}), el("span", {class: "price", text: card.price}),
          el("span", {class: "card-button", text: card.button_label || T.open_in_shop}),
        ])));
        item.appendChild(cards);
      } else {
        item.appendChild(el("p", {class: "text", "data-testid": "message-text", text: message.text || `[${message.kind}]`}));
      }
      const meta = el("small", {class: "meta"}, [
        el("span", {text: new Date(message.created_at).toLocaleTimeString(LOCALE, {hour: "2-digit", minute: "2-digit"})}),
      ]);
      if (message.direction === "out") {
        meta.appendChild(el("span", {
          class: `state ${message.status}`, "data-testid": "delivery", "data-via": message.sent_via || "",
          title: message.status === "sent" ? (VIA[message.sent_via] || "") : "",
          text: STATUS[message.status] || message.status,
        }));
        if (message.status === "failed") {
          meta.appendChild(el("span", {class: "reason", "data-testid": "failure-reason", text: message.failure_reason || ""}));
          const button = el("button", {type: "button", class: "retry", "data-testid": "retry", text: T.retry});
          button.addEventListener("click", async () => {
            button.disabled = true;
            try {
              upsert((await post(body.dataset.retryUrl.replace(/0$/, String(message.id)))).message, "retried");
            } catch (error) { button.disabled = false; alert(error.message); }
          });
          meta.appendChild(button);
        }
      }
      item.appendChild(meta);
      return item;
    }

    // source "server": a fresh read or a delivery event, its delivery state wins;
    // "created": a new message (send answer, message.created), keeps a state an event already gave;
    // "retried": the retry answer, "queued" only over "failed" (the worker may be faster).
    function upsert(message, source) {
      if (!message || message.conversation_id !== conversationId) return;
      const previous = known.get(message.id);
      const merged = Object.assign({}, previous || {}, message);
      const keep = previous && (source === "created" || (source === "retried" && previous.status !== "failed"));
      if (keep) DELIVERY.forEach((key) => { if (key in previous) merged[key] = previous[key]; });
      known.set(message.id, merged);
      if (merged.created_at) {  // a delivery state alone waits for its message
        const node = renderMessage(merged);
        const existing = byId.get(message.id);
        if (existing) existing.replaceWith(node);
        else {
          const follow = stuckToBottom || source === "created" && merged.direction === "out";
          timeline.appendChild(node);
          if (follow) scrollToNewest();
          else newBelow.hidden = false;
        }
        byId.set(message.id, node);
      }
      scheduleRefresh();
    }

    let refreshTimer = null;
    function anyQueued() { return [...known.values()].some((m) => m.created_at && m.status === "queued"); }
    async function refresh() {
      clearTimeout(refreshTimer);
      refreshTimer = null;
      try {
        const response = await fetch(body.dataset.messagesUrl, {credentials: "same-origin"});
        if (response.ok) (await response.json()).messages.forEach((message) => upsert(message, "server"));
      } catch (error) { /* offline: the next refresh tries again */ }
      scheduleRefresh();
    }
    function scheduleRefresh() {
      if (!anyQueued()) { clearTimeout(refreshTimer); refreshTimer = null; return; }
      if (refreshTimer) return;
      // no events from the worker: as often as before; socket down: slowly; live: a late safety net
      const delay = !statusPush ? 1500 : (socketLive ? 30000 : 10000);
      refreshTimer = setTimeout(() => { refreshTimer = null; if (anyQueued()) refresh(); }, delay);
    }

    JSON.parse(document.getElementById("initial-messages").textContent).forEach((m) => upsert(m, "server"));
    scrollToNewest();

    connect((event) => {
      if (event.type === "message.created" && event.conversation_id === conversationId) {
        // a timeline event (assigned, closed) is worded by the server in this page's language
        if (event.message && event.message.kind === "event") refresh();
        else upsert(event.message, "created");
      } else if (event.type === "message.updated" && event.conversation_id === conversationId) {
        upsert(event.message, "server");
      } else if (event.type === "live") {
        socketLive = true;
        clearTimeout(refreshTimer);
        refreshTimer = null;
        // back after a drop: catch up on what was missed; first time: what changed since the page was made
        if (dropped || anyQueued()) refresh();
        dropped = false;
      } else if (event.type === "reconnect") {
        socketLive = false;
        dropped = true;
        clearTimeout(refreshTimer);
        refreshTimer = null;
        scheduleRefresh();
      } else if (event.type === "conversation.removed" && event.conversation_id === conversationId) {
        setLive("error", T.moved);
      }
    }, [{type: "subscribe.conversation", conversation_id: conversationId}]);

    const composer = document.getElementById("composer");
    const input = document.getElementById("composer-text");
    // While typing, the tab bar steps aside so the keyboard leaves room for the conversation.
    input.addEventListener("focus", () => { body.classList.add("typing"); });
    input.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== input) body.classList.remove("typing");
    }, 250));
    // Tapping Send keeps the focus (and the keyboard) in the field, so nothing moves under the tap.
    composer.querySelector("[type=submit]").addEventListener("mousedown", (event) => event.preventDefault());
    composer.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.readOnly = true;  // not disabled: that would take the focus and close the keyboard
      try {
        upsert((await post(body.dataset.sendUrl, {text})).message, "created");
        input.value = "";
      } catch (error) { alert(error.message); }
      input.readOnly = false;
      input.focus();
    });

    // Sheets: customer panel and product picker.
    document.querySelectorAll("[data-open]").forEach((button) => button.addEventListener("click", () => {
      document.getElementById(button.dataset.open).hidden = false;
      if (button.dataset.open === "picker") search("");
    }));
    document.querySelectorAll("[data-close]").forEach((button) => button.addEventListener("click", () => {
      document.getElementById(button.dataset.close).hidden = true;
    }));

    const picked = new Set();
    const cartLines = new Map();
    const results = document.getElementById("picker-results");
    const sendCards = document.getElementById("send-cards");
    const sendCart = document.getElementById("send-cart");
    const pickerError = document.getElementById("picker-error");
    function updatePicker() {
      document.getElementById("picker-count").textContent =
        `${T.picked.replace("__N__", picked.size)} · ${T.cart_items.replace("__N__", cartLines.size)}`;
      sendCards.disabled = picked.size === 0 || picked.size > 10;
      sendCart.disabled = cartLines.size === 0;
    }
    async function search(query) {
      const response = await fetch(`${body.dataset.productsUrl}?q=${encodeURIComponent(query)}`, {credentials: "same-origin"});
      if (!response.ok) return;
      results.replaceChildren();
      (await response.json()).products.forEach((product) => {
        const box = el("input", {type: "checkbox", "data-testid": "pick-product", "data-product": product.id});
        box.checked = picked.has(product.id);
        box.addEventListener("change", () => {
          if (box.checked && picked.size >= 10) { box.checked = false; return; }
          box.checked ? picked.add(product.id) : picked.delete(product.id);
          updatePicker();
        });
        const variants = el("ul", {class: "variants"});
        product.variants.forEach((variant) => {
          const add = el("input", {type: "checkbox", "data-testid": "cart-variant", "data-variant": variant.id});
          add.checked = cartLines.has(variant.id);
          add.disabled = variant.online < 1;
          add.addEventListener("change", () => { add.checked ? cartLines.set(variant.id, 1) : cartLines.delete(variant.id); updatePicker(); });
          variants.appendChild(el("li", {}, [el("label", {}, [add, el("span", {
            text: ` ${variant.title} · ${T.stock.replace("__MINE__", variant.my_store).replace("__OTHER__", variant.other_stores).replace("__ONLINE__", variant.online)}`,
          })])]));
        });
        results.appendChild(el("li", {class: "product", "data-testid": "picker-product"}, [
          el("label", {class: "pick"}, [box, product.image_url ? el("img", {src: product.image_url, alt: ""}) : null,
            el("strong", {text: product.title}), el("span", {class: "price", text: product.price})]),
          variants,
        ]));
      });
    }
    let searchTimer = null;
    document.getElementById("picker-q").addEventListener("input", (event) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => search(event.target.value), 250);
    });
    async function sendFromPicker(url, data) {
      pickerError.hidden = true;
      try {
        const answer = await post(url, data);
        upsert(answer.message, "created");
        picked.clear(); cartLines.clear(); updatePicker();
        document.getElementById("picker").hidden = true;
      } catch (error) { pickerError.textContent = error.message; pickerError.hidden = false; }
    }
    sendCards.addEventListener("click", () => sendFromPicker(body.dataset.cardsUrl, {product_ids: [...picked]}));
    sendCart.addEventListener("click", () => sendFromPicker(body.dataset.cartUrl, {
      lines: [...cartLines].map(([variant_id, quantity]) => ({variant_id, quantity})),
    }));
  }

  // --- my QR: copy and share ---------------------------------------------------------------------------
  document.querySelectorAll("[data-copy]").forEach((button) => button.addEventListener("click", async () => {
    const input = document.querySelector(button.dataset.copy);
    try { await navigator.clipboard.writeText(input.value); } catch (e) { input.select(); document.execCommand("copy"); }
    button.textContent = T.copied;
  }));
  document.querySelectorAll("[data-share]").forEach((button) => button.addEventListener("click", () => {
    const url = document.querySelector(button.dataset.share).value;
    if (navigator.share) navigator.share({title: button.dataset.title, url}).catch(() => undefined);
    else navigator.clipboard && navigator.clipboard.writeText(url);
  }));
})();
