/* The shop works without JavaScript; this file only adds what a phone user expects:
   - product page: the variant picker updates price and stock at once, and stock is refreshed
     from stock.json on every change and every 30 s while the page is visible;
   - checkout: the fields of the chosen fulfilment are shown and the matching payment is picked;
     the district list follows the county and fills the postal code; the e-invoice fields follow
     the choice; every field error is shown at once and the first invalid field is focused. */
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

  // Taiwan e-invoice and business-number checks, the same rules as omo.commerce.einvoice.
  var MOBILE_BARCODE = /^\/[0-9A-Z.+\-]{7}$/;
  var DONATION_CODE = /^\d{3,7}$/;
  function isTaxId(value) {
    if (!/^\d{8}$/.test(value)) return false;
    var weights = [1, 2, 1, 2, 1, 2, 4, 1];
    var total = 0;
    for (var i = 0; i < 8; i++) {
      var product = Number(value[i]) * weights[i];
      var digits = Math.floor(product / 10) + (product % 10);
      total += Math.floor(digits / 10) + (digits % 10);  // 7×4 = 28 → 10 → 1
    }
    if (total % 5 === 0) return true;
    return value[6] === "7" && (total - 1) % 5 === 0;  // the 1 may also count as 0
  }

  function checkoutPage() {
    var form = document.querySelector("[data-checkout]");
    if (!form) return;
    var messagesNode = document.getElementById("checkout-messages");
    var MESSAGES = messagesNode ? JSON.parse(messagesNode.textContent) : {};

    function apply(fulfilment, pickPayment) {
      form.querySelectorAll("[data-when]").forEach(function (section) {
        section.hidden = section.dataset.when !== fulfilment;
      });
      if (pickPayment) {
        var payment = form.querySelector("[data-payment-for='" + fulfilment + "']");
        if (payment) payment.checked = true;
      }
    }

    // County → its districts → the district's postal code. Without JavaScript the district list
    // holds every county's districts in groups; here it keeps only the chosen county's.
    var county = form.querySelector("[data-county]");
    var district = form.querySelector("[data-district]");
    var postal = form.querySelector("#id_postal_code");
    var groups = district ? Array.prototype.slice.call(district.querySelectorAll("optgroup")) : [];
    var placeholder = district ? district.querySelector("option[value='']") : null;
    function showDistricts() {
      if (!county || !district) return;
      var chosen = district.value;
      restoreGroups();
      district.textContent = "";
      if (placeholder) district.appendChild(placeholder);
      groups.forEach(function (group) {
        if (group.dataset.county !== county.value) return;
        Array.prototype.slice.call(group.children).forEach(function (option) {
          district.appendChild(option);
        });
      });
      district.value = chosen;
      if (district.value !== chosen) district.value = "";
    }
    var groupOptions = groups.map(function (group) { return Array.prototype.slice.call(group.children); });
    function restoreGroups() {
      groups.forEach(function (group, index) {
        groupOptions[index].forEach(function (option) { group.appendChild(option); });
      });
    }
    function fillPostal() {
      if (!district || !postal) return;
      var option = district.options[district.selectedIndex];
      var code = option ? option.dataset.postalCode : "";
      if (code && postal.value.slice(0, 3) !== code) postal.value = code;
      if (!code && !district.value) postal.value = "";
    }
    if (county && district) showDistricts();

    function kind() {
      var checked = form.querySelector("[data-invoice-kind]:checked");
      return checked ? checked.value : "member";
    }
    function applyInvoice() {
      var chosen = kind();
      form.querySelectorAll("[data-invoice-for]").forEach(function (section) {
        section.hidden = section.dataset.invoiceFor !== chosen;
      });
    }

    form.addEventListener("change", function (event) {
      if (event.target.matches("[data-fulfilment]")) apply(event.target.value, true);
      if (event.target === county) { showDistricts(); fillPostal(); }
      if (event.target === district) fillPostal();
      if (event.target.matches("[data-invoice-kind]")) applyInvoice();
    });
    var chosen = form.querySelector("[data-fulfilment]:checked");
    if (chosen) apply(chosen.value, false);
    applyInvoice();

    // Every problem at once, next to its field, and the first invalid field focused.
    function value(name) {
      var field = form.elements[name];
      return field && field.value !== undefined ? String(field.value).trim() : "";
    }
    function clearErrors() {
      form.querySelectorAll("[data-client-error]").forEach(function (node) { node.remove(); });
      form.querySelectorAll("[aria-invalid=true]").forEach(function (node) {
        node.removeAttribute("aria-invalid");
        var wrapper = node.closest(".field");
        if (wrapper) wrapper.classList.remove("has-error");
      });
    }
    function markError(name, message) {
      var field = form.querySelector("#id_" + name);
      if (!field) return null;
      var wrapper = field.closest(".field") || field.parentNode;
      var old = wrapper.querySelector("#id_" + name + "-error");
      if (old) old.remove();
      wrapper.classList.add("has-error");
      field.setAttribute("aria-invalid", "true");
      var note = document.createElement("p");
      note.className = "error";
      note.id = "id_" + name + "-error";
      note.dataset.clientError = "";
      note.textContent = message || "";
      wrapper.appendChild(note);
      field.setAttribute("aria-describedby", note.id);
      return field;
    }
    function problems() {
      var found = [];
      var fulfilment = (form.querySelector("[data-fulfilment]:checked") || {}).value;
      if (!value("name")) found.push("name");
      if (value("phone").replace(/\D/g, "").length < 8) found.push("phone");
      var email = value("email");
      if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) found.push("email");
      if (fulfilment === "ship") {
        if (!value("city")) found.push("city");
        if (!value("district")) found.push("district");
        var option = district && district.options[district.selectedIndex];
        var code = value("postal_code");
        if (option && option.dataset.postalCode && code && code.slice(0, 3) !== option.dataset.postalCode) {
          found.push("postal_code");
        }
        if (!value("line1")) found.push("line1");
      } else if (fulfilment === "pickup" && !value("pickup_store")) {
        found.push("pickup_store");
      }
      var chosenKind = kind();
      if (chosenKind === "mobile" && !MOBILE_BARCODE.test(value("invoice_carrier").toUpperCase())) found.push("invoice_carrier");
      if (chosenKind === "company") {
        if (!isTaxId(value("invoice_tax_id"))) found.push("invoice_tax_id");
        if (!value("invoice_company")) found.push("invoice_company");
      }
      if (chosenKind === "donation" && !DONATION_CODE.test(value("invoice_donation_code"))) found.push("invoice_donation_code");
      return found;
    }
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.value === "apply_coupon") return;
      clearErrors();
      var found = problems();
      if (!found.length) return;
      event.preventDefault();
      var first = null;
      found.forEach(function (name) {
        var field = markError(name, MESSAGES[name]);
        if (!first) first = field;
      });
      var summary = document.getElementById("form-errors");
      if (!summary) {
        summary = document.createElement("div");
        summary.className = "form-errors";
        summary.id = "form-errors";
        summary.setAttribute("role", "alert");
        summary.setAttribute("data-testid", "form-errors");
        form.parentNode.insertBefore(summary, form);
      }
      summary.textContent = "";
      var line = document.createElement("p");
      line.textContent = (MESSAGES.summary || "").replace("__N__", String(found.length));
      summary.appendChild(line);
      if (first) first.focus();
    });
    var invalid = form.querySelector("[autofocus]") || form.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    productPage();
    checkoutPage();
  });
})();
