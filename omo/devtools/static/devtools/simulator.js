/* The phone simulator: the customer's side of LINE, against the stand-in (see omo/devtools/simulator.py). */
(function () {
  "use strict";
  const body = document.body;
  const chat = document.getElementById("chat");
  const status = document.getElementById("status");
  const inbox = () => document.getElementById("inbox").value;
  const sent = [];  // what "I" typed, shown on the right
  let received = [];

  function csrf() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : document.querySelector("[name=csrfmiddlewaretoken]").value;
  }
  async function post(url, data) {
    const response = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()}, body: JSON.stringify(data)});
    const payload = await response.json().catch(() => ({error: response.statusText}));
    if (!response.ok) throw new Error(payload.error || response.statusText);
    return payload;
  }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== undefined && v !== null && v !== "") { k === "text" ? node.textContent = v : node.setAttribute(k, v); } });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }
  function render() {
    const items = [...sent.map((m) => ({...m, mine: true})), ...received].sort((a, b) => a.at - b.at);
    chat.replaceChildren(...items.map((m) => {
      if (m.mine) return el("li", {class: "me", "data-testid": "sim-sent", text: m.text});
      if (m.type === "flex") {
        return el("li", {class: "bot flex", "data-testid": "sim-flex"}, [
          el("div", {class: "carousel"}, m.cards.map((card) => el("div", {class: "bubble", "data-testid": "sim-card"}, [
            card.image ? el("a", {href: card.uri}, [el("img", {src: card.image, alt: card.title})]) : null,
            el("strong", {text: card.title}), ...card.lines.map((line) => el("span", {text: line})),
            el("a", {class: "button", href: card.uri, "data-testid": "sim-card-link", text: card.label || "查看商品"}),
          ]))),
        ]);
      }
      return el("li", {class: "bot", "data-testid": "sim-received", text: m.text});
    }));
    chat.scrollTop = chat.scrollHeight;
  }
  async function poll() {
    try {
      const response = await fetch(`${body.dataset.receivedUrl}?inbox_id=${inbox()}`, {credentials: "same-origin"});
      if (response.ok) {
        received = (await response.json()).messages.map((m) => ({...m, at: m.at * 1000}));
        render();
      }
    } catch (e) { /* the stand-in may be restarting */ }
    setTimeout(poll, 1000);
  }
  document.getElementById("open").addEventListener("click", async () => {
    status.textContent = "開啟中… Opening…";
    try {
      const answer = await post(body.dataset.openUrl, {inbox_id: inbox(), link: document.getElementById("link").value});
      status.textContent = `已加入好友並傳送綁定代碼 #${answer.code} · Followed and sent the code`;
      status.dataset.state = "bound";
      sent.push({text: `綁定專屬店員 #${answer.code}`, at: Date.now()});
      render();
    } catch (error) { status.textContent = error.message; status.dataset.state = "error"; }
  });
  const play = document.getElementById("play");
  if (play) play.addEventListener("click", async () => {
    try {
      const answer = await post(body.dataset.playUrl, {inbox_id: inbox()});
      status.textContent = `你現在是 ${answer.customer} · You are ${answer.customer}`;
      status.dataset.state = "bound";
    } catch (error) { status.textContent = error.message; status.dataset.state = "error"; }
  });
  document.getElementById("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    const text = input.value.trim();
    if (!text) return;
    try {
      await post(body.dataset.sayUrl, {inbox_id: inbox(), text});
      sent.push({text, at: Date.now()});
      input.value = "";
      render();
    } catch (error) { status.textContent = error.message; status.dataset.state = "error"; }
  });
  poll();
})();
