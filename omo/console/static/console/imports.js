// Follows an import job: polls its progress once a second and reloads when it has finished,
// so the row-by-row report appears without the user doing anything.
(function () {
  const card = document.querySelector("[data-import-progress]");
  if (!card || card.dataset.finished) return;
  const bar = card.querySelector("progress");
  async function poll() {
    try {
      const response = await fetch(card.dataset.importProgress, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        bar.value = job.percent;
        for (const key of Object.keys(job)) {
          const cell = card.querySelector(`[data-field="${key}"]`);
          if (cell) cell.textContent = job[key];
        }
        if (job.finished) { window.location.reload(); return; }
      }
    } catch (error) { /* network hiccup: try again on the next tick */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
