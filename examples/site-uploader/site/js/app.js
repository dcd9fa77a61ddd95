// Reads data.json from the same site and shows it, so a test can tell that
// scripts ran and same-origin fetches work through the gateway.
fetch('data.json')
  .then(function (r) { return r.json(); })
  .then(function (d) { document.getElementById('x').textContent = 'loaded ' + d.message; })
  .catch(function (e) { document.getElementById('x').textContent = 'failed ' + e; });
