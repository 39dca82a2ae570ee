/* The shop's own tracking: a page view on every page plus the e-commerce events the page hands
   over in #omo-track-data (Product Viewed, Product Added, Product Removed, Cart Viewed, Checkout
   Started, Order Completed), sent in Segment's format to /v1/batch with the shop's write key.

   - The visitor is an anonymous id in a first-party cookie, ajs_anonymous_id (the name
     analytics.js uses, so the two agree on one visitor), kept for a year.
   - Events are batched: sent together a moment after the page loads, and whatever is left when the
     page is hidden or left goes with navigator.sendBeacon. A batch the browser could not hand over
     is kept in sessionStorage and sent from the next page.
   - No third-party code and nothing leaves the shop's own origin. */
(function () {
  "use strict";

  var node = document.getElementById("omo-track-data");
  if (!node) return;
  var config;
  try {
    config = JSON.parse(node.textContent);
  } catch (e) {
    return;
  }
  if (!config || !config.writeKey) return;

  var COOKIE = config.cookie || "ajs_anonymous_id";
  var YEAR = 365 * 24 * 3600;
  var STORE_KEY = "omo-track-unsent";
  var FLUSH_MS = 800;
  var MAX_BATCH = 50;
  var queue = [];
  var timer = null;

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        // analytics.js stores the id JSON-encoded ("…"); accept both.
        return decodeURIComponent(parts[i].slice(eq + 1)).replace(/^"|"$/g, "");
      }
    }
    return "";
  }

  function anonymousId() {
    var id = readCookie(COOKIE);
    if (!/^[A-Za-z0-9_.:-]{8,64}$/.test(id)) id = uuid();
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = COOKIE + "=" + encodeURIComponent(id) + "; Max-Age=" + YEAR + "; Path=/; SameSite=Lax" + secure;
    return id;
  }

  var visitor = anonymousId();

  function context() {
    return {
      library: { name: "omo-track", version: "1" },
      locale: navigator.language || "",
      userAgent: navigator.userAgent,
      page: {
        path: location.pathname,
        referrer: document.referrer,
        search: location.search,
        title: document.title,
        url: location.href
      }
    };
  }

  function message(type, fields) {
    var msg = {
      type: type,
      anonymousId: visitor,
      messageId: fields.messageId || uuid(),
      timestamp: new Date().toISOString(),
      context: context()
    };
    for (var key in fields) {
      if (key !== "messageId" && Object.prototype.hasOwnProperty.call(fields, key)) msg[key] = fields[key];
    }
    return msg;
  }

  function body(messages) {
    return JSON.stringify({ batch: messages, sentAt: new Date().toISOString(), writeKey: config.writeKey });
  }

  function keep(messages) {
    try {
      var kept = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
      sessionStorage.setItem(STORE_KEY, JSON.stringify(kept.concat(messages).slice(-200)));
    } catch (e) { /* storage full or blocked: the events are lost, the page is not */ }
  }

  function takeKept() {
    try {
      var kept = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
      sessionStorage.removeItem(STORE_KEY);
      return Array.isArray(kept) ? kept : [];
    } catch (e) {
      return [];
    }
  }

  function send(messages, leaving) {
    if (!messages.length) return;
    var payload = body(messages);
    if (leaving && navigator.sendBeacon) {
      var blob = new Blob([payload], { type: "application/json" });
      if (!navigator.sendBeacon(config.endpoint, blob)) keep(messages);
      return;
    }
    if (!window.fetch) {
      keep(messages);
      return;
    }
    fetch(config.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: payload,
      credentials: "same-origin",
      keepalive: payload.length < 60000
    }).then(function (response) {
      // Rejected as a whole (e.g. 400): sending it again would not help. 5xx: try again later.
      if (response.status >= 500) keep(messages);
    }).catch(function () {
      keep(messages);
    });
  }

  function flush(leaving) {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    while (queue.length) send(queue.splice(0, MAX_BATCH), leaving);
  }

  function enqueue(msg) {
    queue.push(msg);
    if (queue.length >= MAX_BATCH) flush(false);
    else if (!timer) timer = setTimeout(function () { flush(false); }, FLUSH_MS);
  }

  // The public calls, for templates or a brand's own additions.
  var omo = {
    page: function (name, properties) {
      enqueue(message("page", { name: name || "", properties: properties || {} }));
    },
    track: function (event, properties, messageId) {
      enqueue(message("track", { event: event, properties: properties || {}, messageId: messageId }));
    },
    flush: function () { flush(false); },
    anonymousId: function () { return visitor; }
  };
  window.omoTrack = omo;

  takeKept().forEach(function (msg) { queue.push(msg); });
  omo.page(document.title, {
    path: location.pathname,
    referrer: document.referrer,
    search: location.search,
    title: document.title,
    url: location.href
  });
  (config.events || []).forEach(function (item) {
    if (item && item.event) omo.track(item.event, item.properties, item.messageId);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
  });
  window.addEventListener("pagehide", function () { flush(true); });
})();
