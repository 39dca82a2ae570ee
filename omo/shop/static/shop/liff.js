// The shop's LIFF page: get the LINE ID token and let the server verify it and recognise the
// shopper, then go on to the product. Only the raw ID token is sent, never profile data
// (platforms.md §A10). Against the LINE stand-in (demo, tests) there is no SDK: the phone
// simulator puts a stand-in ID token in the URL fragment (#id_token=…) instead.
(function () {
  "use strict";
  var root = document.getElementById("liff-signin");
  if (!root) return;
  var statusEl = document.getElementById("liff-status");
  var errorEl = document.getElementById("liff-error");
  var continueEl = document.getElementById("liff-continue");

  function fail(message) {
    statusEl.hidden = true;
    errorEl.hidden = false;
    errorEl.textContent = message;
    continueEl.hidden = false;
  }

  function signIn(idToken) {
    return fetch(root.dataset.signinUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify({ idToken: idToken, r: root.dataset.token }),
    })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.ok) {
          window.location.replace(body.next);
        } else {
          fail(root.dataset.failed + ((body.error && body.error.message) ? " (" + body.error.message + ")" : ""));
        }
      })
      .catch(function () { fail(root.dataset.network); });
  }

  if (root.dataset.standIn) {
    var match = /(?:^#|&)id_token=([^&]+)/.exec(window.location.hash || "");
    if (!match) { statusEl.hidden = true; return; } // opened outside the simulator: the continue link stays
    history.replaceState(null, "", window.location.pathname + window.location.search);
    signIn(decodeURIComponent(match[1]));
    return;
  }
  var liffId = root.dataset.liffId;
  if (!liffId || typeof window.liff === "undefined") { fail(root.dataset.failed); return; }
  window.liff
    .init({ liffId: liffId })
    .then(function () {
      if (!window.liff.isLoggedIn()) {
        window.liff.login({ redirectUri: window.location.href });
        return;
      }
      var token = window.liff.getIDToken();
      if (!token) throw new Error("no ID token (is the openid scope enabled?)");
      return signIn(token);
    })
    .catch(function () { fail(root.dataset.failed); });
})();
