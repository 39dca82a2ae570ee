/* omo HQ console inbox: live list and conversation over /ws/inbox/, and canned-reply insertion.
   The pages work without it; on each event the server renders the changed part again (same scope,
   same filters), so the script never builds rows or messages itself. */
(function () {
  "use strict";

  // Canned replies: choosing one puts its text (variables already filled in) into the reply box.
  document.querySelectorAll("select[data-canned-insert]").forEach(function (select) {
    select.addEventListener("change", function () {
      var option = select.selectedOptions[0];
      var box = document.getElementById(select.getAttribute("data-canned-insert"));
      if (!option || !option.value || !box) return;
      var text = option.getAttribute("data-text") || "";
      var start = box.selectionStart || 0;
      var end = box.selectionEnd || 0;
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
      box.focus();
      box.selectionStart = box.selectionEnd = start + text.length;
    });
  });

  var root = document.querySelector("[data-inbox]");
  if (!root || !window.WebSocket || !window.fetch) return;
  var mode = root.getAttribute("data-inbox");
  var conversationId = Number(root.getAttribute("data-conversation-id") || 0);
  var live = document.querySelector("[data-live-state]");

  function setLive(state, label) {
    if (!live) return;
    live.setAttribute("data-state", state);
    live.textContent = live.getAttribute(label) || state;
  }

  // Several events often arrive together (message + conversation update): one fetch for them all.
  var timers = {};
  function refresh(url, target, after) {
    if (!url || !target) return;
    clearTimeout(timers[url]);
    timers[url] = setTimeout(function () {
      fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) return;
          target.innerHTML = html; // rendered by our own templates, escaped there
          if (after) after(target);
        })
        .catch(function () {});
    }, 200);
  }

  var listTarget = document.getElementById("inbox-rows");
  var timeline = document.getElementById("inbox-timeline");
  var facts = document.getElementById("inbox-facts");
  function toBottom(node) { node.scrollTop = node.scrollHeight; }
  if (timeline) toBottom(timeline);

  function refreshList() { refresh(root.getAttribute("data-fragment-url"), listTarget); }
  function refreshTimeline() { refresh(root.getAttribute("data-timeline-url"), timeline, toBottom); }
  function refreshFacts() { refresh(root.getAttribute("data-facts-url"), facts); }

  function onEvent(event) {
    if (event.type === "reconnect") {
      if (mode === "list") refreshList(); else { refreshTimeline(); refreshFacts(); }
      return;
    }
    if (mode === "list") {
      if (/^(message\.created|conversation\.(updated|assigned|removed))$/.test(event.type)) refreshList();
      return;
    }
    if (event.conversation_id !== conversationId) return;
    if (event.type === "conversation.removed") {
      setLive("removed", "data-label-removed");
      return;
    }
    if (event.type === "message.created" || event.type === "message.updated") refreshTimeline();
    if (event.type === "conversation.updated" || event.type === "conversation.assigned") {
      refreshFacts();
      refreshTimeline();
    }
  }

  // Delivery results come from a worker, whose events may not reach this server's sockets (one
  // machine, in-memory channel layer): while a message is still being sent, look again now and then.
  if (timeline) {
    setInterval(function () {
      if (!document.hidden && timeline.querySelector('[data-status="queued"]')) refreshTimeline();
    }, 5000);
  }

  var subscription = mode === "list"
    ? {type: "subscribe.list"}
    : {type: "subscribe.conversation", conversation_id: conversationId};
  var retryIn = 1000;
  var opened = false;

  function open() {
    var scheme = location.protocol === "https:" ? "wss" : "ws";
    var socket = new WebSocket(scheme + "://" + location.host + "/ws/inbox/");
    socket.onopen = function () {
      retryIn = 1000;
      socket.send(JSON.stringify(subscription));
    };
    socket.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.type === "subscribed") {
        setLive("live", "data-label-live");
        if (opened) onEvent({type: "reconnect"}); // catch up on what happened while offline
        opened = true;
      } else if (data.type !== "hello" && data.type !== "pong" && data.type !== "error") {
        onEvent(data);
      }
    };
    socket.onclose = function () {
      setLive("offline", "data-label-offline");
      setTimeout(open, retryIn);
      retryIn = Math.min(retryIn * 2, 15000);
    };
  }
  open();
})();
