// LIFF endpoint: get the ID token from LINE's SDK and let the server verify and bind.
// Never send profile data: only the raw ID token (platforms.md §A10). Without the SDK (demo, tests)
// the phone simulator posts to the same endpoint itself and this script just waits.
(function () {
  "use strict";
  var root = document.getElementById("binding");
  if (!root) return;
  var statusEl = document.getElementById("status");
  var resultEl = document.getElementById("result");
  var friendEl = document.getElementById("add-friend");

  function show(message, ok) {
    statusEl.hidden = true;
    resultEl.hidden = false;
    resultEl.textContent = message;
    resultEl.className = ok ? "ok" : "error";
    if (friendEl.getAttribute("href")) friendEl.hidden = false;
  }

  function bind(idToken) {
    return fetch(root.dataset.bindUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ idToken: idToken, clerk: root.dataset.clerk }),
    })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.ok) {
          if (body.add_friend_url) friendEl.setAttribute("href", body.add_friend_url);
          show(body.message, true);
        } else {
          show((body.error && body.error.message) || "綁定失敗 / Binding failed", false);
        }
      })
      .catch(function () { show("網路連線失敗，請再試一次。Network error, please try again.", false); });
  }

  var liffId = root.dataset.liffId;
  if (!liffId || typeof window.liff === "undefined") return;
  if (root.dataset.forward) {
    // A LIFF URL with an extra path (the shop's sign-in): liff.init() takes the browser there.
    window.liff.init({ liffId: liffId }).catch(function (error) {
      show("LINE 開啟失敗 / LINE could not open the page: " + error.message, false);
    });
    return;
  }
  window.liff
    .init({ liffId: liffId })
    .then(function () {
      if (!window.liff.isLoggedIn()) {
        window.liff.login({ redirectUri: window.location.href });
        return;
      }
      var token = window.liff.getIDToken();
      if (!token) throw new Error("no ID token (is the openid scope enabled?)");
      return bind(token);
    })
    .catch(function (error) { show("LINE 登入失敗 / LINE login failed: " + error.message, false); });
})();
