/* omo clerk app service worker: makes the app installable and keeps its shell usable offline.
   Pages and JSON always go to the network first (live data); static files are cached. */
const CACHE = "omo-clerk-v1";
const SHELL = ["{% url 'clerk:home' %}", "/static/clerk/clerk.css", "/static/clerk/clerk.js", "/static/clerk/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL).catch(() => undefined)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))));
  self.clients.claim();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/clerk/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match("{% url 'clerk:home' %}")));
  }
});
