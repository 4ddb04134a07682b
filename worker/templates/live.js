// Live updates: the server sends the re-rendered status section on every
// change of the status bucket. Without JavaScript the page is a static
// snapshot and a reload refreshes it.
(function () {
  if (!window.EventSource) return;
  var live = document.getElementById('live');
  var es = new EventSource('/events');
  es.addEventListener('status', function (e) {
    document.getElementById('status').innerHTML = e.data;
    live.textContent = 'live';
  });
  es.onerror = function () { live.textContent = 'reconnecting…'; };
})();
