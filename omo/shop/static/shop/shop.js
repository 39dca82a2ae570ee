/* The shop works without JavaScript; this file only adds what a phone user expects:
   - product page: the variant picker updates price and stock at once, and stock is refreshed
     from stock.json on every change and every 30 s while the page is visible;
   - checkout: the fields of the chosen fulfilment are shown and the matching payment is picked. */
(function () {
  "use strict";

  var POLL_MS = 30000;

  function formatTemplate(template, n) {
    return template.replace("__N__", String(n));
  }

  function productPage() {
    var dataNode = document.getElementById("shop-data");
    var root = document.querySelector("[data-product]");
    if (!dataNode || !root) return;
    var data = JSON.parse(dataNode.textContent);
    var variants = {};
    data.variants.forEach(function (v) { variants[String(v.id)] = v; });
    var stock = data.stock;
    var panel = root.querySelector("[data-stock]");
    var button = root.querySelector("[data-add-button]");
    var pickupNote = root.querySelector("[data-pickup-note]");
    var priceValue = root.querySelector("[data-price-value]");
    var compareAt = root.querySelector("[data-compare-at]");
    var compareAtValue = root.querySelector("[data-compare-at-value]");

    function selectedId() {
      var checked = root.querySelector("input[name=variant]:checked") || root.querySelector("input[name=variant]");
      return checked ? checked.value : null;
    }

    function renderStock(id) {
      var s = stock[id];
      if (!s) return;
      panel.querySelector("[data-online]").textContent =
        s.online > 0 ? formatTemplate(panel.dataset.onlineTemplate, s.online) : panel.dataset.onlineNone;
      var list = panel.querySelector("[data-stores]");
      list.textContent = "";
      if (!s.stores.length) {
        var empty = document.createElement("li");
        empty.textContent = panel.dataset.storesEmpty;
        list.appendChild(empty);
      }
      s.stores.forEach(function (store) {
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.textContent = store.name;
        var count = document.createElement("span");
        count.className = store.available > 0 ? "in-stock" : "out-of-stock";
        count.textContent = store.available > 0
          ? formatTemplate(panel.dataset.storeTemplate, store.available) : panel.dataset.storeNone;
        li.appendChild(name);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(count);
        list.appendChild(li);
      });
      button.disabled = !s.can_add;
      button.textContent = !s.can_add ? button.dataset.labelSoldOut
        : s.pickup_only ? button.dataset.labelPickup : button.dataset.labelAdd;
      pickupNote.hidden = !s.pickup_only;
      var label = root.querySelector("label[for='variant-" + id + "']");
      if (label) label.classList.toggle("sold-out", !s.can_add);
    }

    function renderPrice(id) {
      var v = variants[id];
      if (!v) return;
      priceValue.textContent = v.price_display;
      var struck = v.compare_at_display && v.compare_at > v.price;
      compareAt.hidden = !struck;
      if (struck) compareAtValue.textContent = v.compare_at_display;
    }

    function refresh() {
      return fetch(data.stock_url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) return;
          body.variants.forEach(function (s) { stock[String(s.id)] = s; });
          var id = selectedId();
          if (id) renderStock(id);
          root.dataset.stockRefreshed = String(Date.now());
        })
        .catch(function () { /* offline: keep what is shown, try again at the next tick */ });
    }

    root.addEventListener("change", function (event) {
      if (event.target.name !== "variant") return;
      var id = event.target.value;
      renderPrice(id);
      renderStock(id);
      if (window.history.replaceState) {
        var url = new URL(window.location.href);
        url.searchParams.set("variant", id);
        window.history.replaceState(null, "", url);
      }
      refresh();
    });

    window.setInterval(function () {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") refresh();
    });
  }

  function checkoutPage() {
    var form = document.querySelector("[data-checkout]");
    if (!form) return;

    function apply(fulfilment, pickPayment) {
      form.querySelectorAll("[data-when]").forEach(function (section) {
        section.hidden = section.dataset.when !== fulfilment;
      });
      if (pickPayment) {
        var payment = form.querySelector("[data-payment-for='" + fulfilment + "']");
        if (payment) payment.checked = true;
      }
    }

    form.addEventListener("change", function (event) {
      if (event.target.matches("[data-fulfilment]")) apply(event.target.value, true);
    });
    var chosen = form.querySelector("[data-fulfilment]:checked");
    if (chosen) apply(chosen.value, false);
  }

  document.addEventListener("DOMContentLoaded", function () {
    productPage();
    checkoutPage();
  });
})();
