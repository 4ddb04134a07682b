// Live updates: at connect the server sends the whole status section, then
// only what changed: a `row` event with one connector's re-rendered row, an
// `unplaced` event with the section of early failures, a `meta` event with
// readiness and the time. Without JavaScript the page is a static snapshot
// and a reload refreshes it.
(function () {
  if (!window.EventSource) return;
  var live = document.getElementById('live');
  var es = new EventSource('/events');
  // swap replaces the element whose id the fragment's root carries.
  function swap(html) {
    var t = document.createElement('template');
    t.innerHTML = html.trim();
    var el = t.content.firstElementChild;
    var old = el && el.id && document.getElementById(el.id);
    if (old) old.replaceWith(el);
  }
  function mark() { live.textContent = 'live'; }
  es.addEventListener('status', function (e) {
    document.getElementById('status').innerHTML = e.data;
    mark();
  });
  ['row', 'unplaced', 'meta'].forEach(function (name) {
    es.addEventListener(name, function (e) { swap(e.data); mark(); });
  });
  es.onerror = function () {
    // A refused stream (503: too many live views) is not retried by the
    // browser; say so instead of promising a reconnect.
    live.textContent = es.readyState === EventSource.CLOSED ? 'live updates unavailable: reload to refresh' : 'reconnecting…';
  };
})();
