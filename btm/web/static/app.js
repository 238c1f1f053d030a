// btm serve: small enhancements only. Every page works without this file.
"use strict";
(function () {
  // Drag and drop onto the drop zone, a list of the chosen files, and an upload progress bar.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var zone = form.querySelector(".dropzone");
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector(".filelist");
    var bar = form.querySelector(".progress");
    function show() {
      if (!list) return;
      list.textContent = "";
      Array.prototype.forEach.call(input.files, function (f) {
        var li = document.createElement("li");
        li.textContent = f.name + " (" + Math.max(1, Math.round(f.size / 1024)) + " KB)";
        list.appendChild(li);
      });
    }
    input.addEventListener("change", show);
    if (zone) {
      ["dragenter", "dragover"].forEach(function (ev) {
        zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (ev) {
        zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("over"); });
      });
      zone.addEventListener("drop", function (e) {
        if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
      });
    }
    form.addEventListener("submit", function (e) {
      if (!window.XMLHttpRequest || !window.FormData || !bar) return;
      e.preventDefault();
      var xhr = new XMLHttpRequest();
      var meter = bar.querySelector("progress");
      var label = bar.querySelector("span");
      bar.classList.add("on");
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) {
          meter.value = ev.loaded / ev.total;
          label.textContent = "Uploading… " + Math.round(100 * ev.loaded / ev.total) + " %";
        }
      });
      xhr.addEventListener("load", function () {
        label.textContent = "Uploaded. Opening…";
        if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL) { window.location.assign(xhr.responseURL); }
        else { document.open(); document.write(xhr.responseText); document.close(); }
      });
      xhr.addEventListener("error", function () { label.textContent = "The upload failed: is btm serve still running?"; });
      xhr.open("POST", form.action);
      xhr.send(new FormData(form));
    });
  });

  // Pages waiting for a check or an analysis: reload when it is done (a <noscript> refresh does it without JS).
  var body = document.body;
  if (body && body.dataset.refresh) {
    var url = body.dataset.status;
    var started = Date.now();
    var clock = document.querySelector("[data-elapsed]");
    var tick = function () {
      if (clock) clock.textContent = Math.round((Date.now() - started) / 1000) + " s";
    };
    setInterval(tick, 1000);
    var poll = function () {
      if (!url) { window.location.reload(); return; }
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (!s.pending && !s.building) { window.location.reload(); } else { setTimeout(poll, 1000); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }

  // Map page: list only the units of the chosen marker.
  document.querySelectorAll("select[data-marker-for]").forEach(function (sel) {
    var unit = document.getElementById(sel.dataset.markerFor);
    if (!unit) return;
    var filter = function () {
      Array.prototype.forEach.call(unit.querySelectorAll("optgroup"), function (g) {
        g.hidden = sel.value && g.dataset.marker !== sel.value;
      });
    };
    sel.addEventListener("change", filter);
    filter();
  });
})();
// Map page: the marker, unit and detection-limit boxes only matter for marker columns.
(function () {
  document.querySelectorAll("select[data-role-for]").forEach(function (role) {
    var j = role.dataset.roleFor;
    var parts = [document.getElementById("marker_" + j), document.getElementById("unit_" + j), document.getElementById("lod_" + j)];
    var sync = function () {
      parts.forEach(function (el) { if (el) el.hidden = role.value !== "marker"; });
    };
    role.addEventListener("change", sync);
    sync();
  });
})();
