/* Paylane: the dashboard's "Requests for you" list, live from the wallet socket's "request" frames
 * (docs/websocket.md). static/js/wallet-live.js owns the socket and tells the page of each one as a
 * "paylane:request" event ({frame, userId}), as it tells the insights of the others. A request that
 * is no longer PENDING leaves the list; a new one is announced and listed with a link to pay it on the
 * requests page (a Pay form needs a one-time token from the server). Plain JavaScript, no build step,
 * no dependency.
 */
(function () {
  "use strict";

  var listEl = document.getElementById("pending-request-list");
  if (!listEl) return;

  function money(amount, currency) {
    var parts = String(amount).split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (currency || "INR") + " " + whole + "." + (parts[1] || "00");
  }

  function rowOf(id) {
    return listEl.querySelector('[data-request="' + id + '"]');
  }

  function showEmptyIfNone() {
    if (listEl.querySelector("[data-request]")) {
      var empty = listEl.querySelector(".empty");
      if (empty) empty.remove();
      return;
    }
    if (!listEl.querySelector(".empty")) {
      var li = document.createElement("li");
      li.className = "empty";
      li.textContent = "Nobody is asking you for money right now.";
      listEl.appendChild(li);
    }
  }

  function addRow(r) {
    var li = document.createElement("li");
    li.className = "request";
    li.setAttribute("data-request", r.id);
    var main = document.createElement("div");
    main.className = "request-main";
    var what = document.createElement("span");
    what.className = "request-what";
    what.textContent = r.requester.username + " asks for " + money(r.amount, r.currency);
    main.appendChild(what);
    if (r.note) {
      var note = document.createElement("span");
      note.className = "request-note";
      note.textContent = r.note;
      main.appendChild(note);
    }
    var link = document.createElement("a");
    link.href = "/requests/";
    link.textContent = "Pay or decline";
    li.appendChild(main);
    li.appendChild(link);
    listEl.insertBefore(li, listEl.firstChild);
    showEmptyIfNone();
  }

  document.addEventListener("paylane:request", function (event) {
    var frame = event.detail && event.detail.frame;
    if (!frame || frame.type !== "request") return;
    var r = frame.request;
    var row = rowOf(r.id);
    if (r.status !== "PENDING") {
      if (row) row.remove();
      showEmptyIfNone();
      return;
    }
    if (!row && r.payer && listEl.getAttribute("data-user") === String(r.payer.user_id)) addRow(r);
  });
})();
