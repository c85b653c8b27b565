/* Paylane live dashboard: balance, remaining daily limit and history over /ws/wallet/.
 *
 * Protocol: docs/websocket.md. The ledger is the truth and a push is a hint:
 * history rows are de-duplicated by seq, the balance shown is the one with the
 * highest version seen, a version gap (or a pong with a newer version) makes the
 * client resume from the last seq it knows it has everything up to, and every
 * (re)connect resumes from there too. Reconnects back off exponentially with
 * jitter. Plain JavaScript, no build step, no dependency.
 */
(function () {
  "use strict";

  var balanceEl = document.getElementById("balance");
  var remainingEl = document.getElementById("remaining-today");
  var listEl = document.getElementById("recent-transactions");
  if (!balanceEl || !listEl || !("WebSocket" in window)) return;

  var RECENT = 10; // rows the dashboard shows (wallets.views.RECENT_ON_DASHBOARD)
  var PING_EVERY = 25000;
  var SILENT_LIMIT = 60000; // no frame for this long: the socket is dead, reconnect
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  var state = {
    userId: null,
    version: null, // version of the balance on screen
    lastSeq: 0, // every entry up to here is on screen (or older than the list)
    seen: new Set(),
    resuming: false,
    attempts: 0,
    socket: null,
    lastFrameAt: 0,
    retry: null,
    countdown: null, // ticks the "retrying in N s" of the offline banner
  };

  Array.prototype.forEach.call(listEl.querySelectorAll("li.tx[data-seq]"), function (li) {
    var seq = Number(li.getAttribute("data-seq"));
    state.seen.add(seq);
    if (seq > state.lastSeq) state.lastSeq = seq;
  });

  // --- Connection indicator ----------------------------------------------------------
  var indicator = document.createElement("p");
  indicator.id = "live-status";
  indicator.setAttribute("role", "status");
  indicator.setAttribute("aria-live", "polite");
  (balanceEl.parentNode || document.body).appendChild(indicator);

  function show(status, text) {
    indicator.className = "live-status " + status;
    indicator.textContent = text;
    indicator.setAttribute("data-status", status);
  }

  // --- Notices: money received and requests, said out loud (role=status, aria-live=polite) ----
  var noticeEl = document.getElementById("live-notice");

  function notify(text, kind) {
    if (!noticeEl) return;
    noticeEl.className = "live-notice " + (kind || "received");
    noticeEl.textContent = text;
  }

  // Other scripts of the page (the insights) follow the same frames through these events.
  function tell(name, detail) {
    var event;
    try {
      event = new CustomEvent(name, { detail: detail });
    } catch (e) {
      return;
    }
    document.dispatchEvent(event);
  }

  // --- Formatting (the same as the templates' |money and date filters) -------------------
  var currency = (balanceEl.textContent.trim().split(" ")[0] || "").replace(/[^A-Z]/g, "") || "INR";

  function money(amount, cur) {
    return window.PaylaneMoney.format(amount, cur || currency); // static/js/money.js
  }

  function reasonText(code) {
    // "daily_limit_exceeded" -> "daily limit exceeded", as the templates' |reason filter.
    return (code || "").split("_").join(" ").trim() || "refused";
  }

  function when(iso) {
    // "2026-11-25T05:20:00.123+05:30" -> "25 Nov 2026, 05:20" in the server's time zone.
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso || "");
    return m ? Number(m[3]) + " " + MONTHS[Number(m[2]) - 1] + " " + m[1] + ", " + m[4] + ":" + m[5] : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function row(tx) {
    var failed = tx.status === "FAILED";
    var outgoing = tx.sender && tx.sender.user_id === state.userId;
    var li = el("li", "tx " + tx.status.toLowerCase() + " live-new");
    li.setAttribute("data-seq", String(tx.id));
    var main = el("div", "tx-main");
    var what = tx.type === "ADD_MONEY" ? "Added money" : outgoing ? "To " + tx.receiver.username : "From " + (tx.sender ? tx.sender.username : "");
    main.appendChild(el("span", "tx-what", what));
    if (tx.note) main.appendChild(el("span", "tx-note", tx.note));
    if (tx.corrects) main.appendChild(el("span", "tx-when", (tx.type === "REFUND" ? "Refund" : "Reversal") + " of #" + tx.corrects));
    var meta = "#" + tx.id + " · " + when(tx.created_at);
    if (failed) meta += " · failed: " + reasonText(tx.failure_reason);
    main.appendChild(el("span", "tx-when", meta));
    if (tx.type === "TRANSFER" && !failed && !outgoing) {
      // A payment just received: refundable, as the server's row says (templates/partials/transaction_row.html).
      var refund = el("a", "tx-refund", "Refund");
      refund.href = "/transactions/" + tx.id + "/refund/";
      refund.setAttribute("aria-label", "Refund payment #" + tx.id);
      main.appendChild(refund);
    }
    li.appendChild(main);
    var sign = failed ? "" : outgoing ? "\u2212" : "+";
    li.appendChild(el("span", "tx-amount " + (failed ? "none" : outgoing ? "out" : "in"), sign + money(tx.amount, tx.currency)));
    return li;
  }

  function addRow(tx) {
    var empty = listEl.querySelector("li.empty");
    if (empty) empty.remove();
    var li = row(tx);
    var before = null;
    var rows = listEl.querySelectorAll("li.tx[data-seq]");
    for (var i = 0; i < rows.length; i++) {
      if (Number(rows[i].getAttribute("data-seq")) < tx.id) {
        before = rows[i];
        break;
      }
    }
    listEl.insertBefore(li, before);
    rows = listEl.querySelectorAll("li.tx[data-seq]");
    for (var j = RECENT; j < rows.length; j++) rows[j].remove();
  }

  // --- Frames ------------------------------------------------------------------------------
  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
  }

  function resume() {
    state.resuming = true;
    send({ type: "resume", after_seq: state.lastSeq });
  }

  function setBalance(balance, version) {
    if (state.version !== null && version < state.version) return false;
    state.version = version;
    balanceEl.textContent = money(balance);
    return true;
  }

  function setRemaining(remaining) {
    if (remainingEl && remaining !== undefined) remainingEl.textContent = money(remaining);
  }

  var handlers = {
    hello: function (f) {
      state.userId = f.user_id;
      tell("paylane:hello", { frame: f, userId: f.user_id });
      state.attempts = 0;
      state.version = null;
      setBalance(f.balance, f.version);
      setRemaining(f.remaining_today);
      show("live", "Live");
      resume(); // whatever committed since this page (or the last socket) was loaded
    },
    transaction: function (f) {
      if (state.seen.has(f.seq)) return;
      state.seen.add(f.seq);
      addRow(f.transaction);
      var tx = f.transaction;
      if (tx.status === "SUCCESS" && tx.sender && tx.receiver && tx.receiver.user_id === state.userId) {
        notify("You received " + money(tx.amount, tx.currency) + " from " + tx.sender.username + (tx.note ? ": " + tx.note : ""));
      }
      tell("paylane:transaction", { frame: f, userId: state.userId });
      var shown = state.version;
      var fresh = setBalance(f.balance, f.version);
      if (fresh && f.remaining_today !== undefined) setRemaining(f.remaining_today);
      var contiguous = shown === null || f.version <= shown + 1;
      if (contiguous && !state.resuming && f.seq > state.lastSeq) state.lastSeq = f.seq;
      if (!contiguous && !state.resuming) resume(); // a version gap: an event was missed
    },
    resumed: function (f) {
      state.resuming = false;
      if (f.last_seq > state.lastSeq) state.lastSeq = f.last_seq;
      setRemaining(f.remaining_today);
    },
    pong: function (f) {
      if (state.version !== null && f.version > state.version && !state.resuming) resume();
      else setRemaining(f.remaining_today);
    },
    request: function (f) {
      // A request for money (docs/websocket.md): the payer hears of a new one.
      var r = f.request || {};
      var payer = r.payer && typeof r.payer === "object" ? r.payer.user_id : r.payer;
      var requester = r.requester && typeof r.requester === "object" ? r.requester.username : r.requester;
      if (r.status === "PENDING" && payer === state.userId) {
        notify((requester || "Someone") + " asks you for " + money(r.amount, r.currency) + (r.note ? ": " + r.note : ""), "request");
      }
      tell("paylane:request", { frame: f, userId: state.userId });
    },
    error: function (f) {
      if (window.console) console.warn("wallet socket:", f.code, f.message);
    },
  };

  // --- Connection with backoff --------------------------------------------------------------
  function connect() {
    clearTimeout(state.retry);
    clearInterval(state.countdown);
    state.retry = null;
    show("connecting", state.attempts ? "Reconnecting\u2026" : "Connecting\u2026");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/wallet/");
    state.socket = socket;
    state.resuming = false;
    socket.onmessage = function (event) {
      state.lastFrameAt = Date.now();
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      var handler = frame && handlers[frame.type];
      if (handler) handler(frame);
    };
    socket.onclose = function (event) {
      if (state.socket !== socket) return;
      state.socket = null;
      if (event.code === 4401) {
        show("offline", "Signed out \u2014 reload to sign in");
        return;
      }
      var delay = Math.min(30000, 500 * Math.pow(2, state.attempts)) * (0.5 + Math.random() / 2);
      state.attempts += 1;
      // The seconds count down on screen; a screen reader hears "retrying shortly" once, not every second.
      var retryAt = Date.now() + delay;
      show("offline", "Offline \u2014 retrying ");
      var seconds = el("span", "countdown");
      seconds.setAttribute("aria-hidden", "true");
      indicator.appendChild(seconds);
      indicator.appendChild(el("span", "visually-hidden", "shortly"));
      var tick = function () {
        seconds.textContent = "in " + Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)) + " s";
      };
      tick();
      clearInterval(state.countdown);
      state.countdown = setInterval(tick, 1000);
      state.retry = setTimeout(connect, delay);
    };
  }

  setInterval(function () {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - state.lastFrameAt > SILENT_LIMIT) {
      state.socket.close(); // a half-open socket: reconnect
      return;
    }
    send({ type: "ping" });
  }, PING_EVERY);

  window.addEventListener("online", function () {
    if (!state.socket && state.retry !== null) {
      state.attempts = 0;
      connect();
    }
  });

  connect();
})();
