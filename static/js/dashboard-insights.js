/* Paylane dashboard: where the money went (wallets/insights.py), drawn and kept live.
 *
 * The figures arrive as data (Django's json_script, id "insights-data": not executable, so the
 * CSP stays strict); this script draws the balance chart as inline SVG and redraws the chart,
 * the table by person and the "pay again" list from the websocket frames that
 * static/js/wallet-live.js receives (it re-emits them as "paylane:transaction" events).
 * Plain JavaScript, no library, no CDN.
 */
(function () {
  "use strict";

  var dataEl = document.getElementById("insights-data");
  var chartEl = document.getElementById("balance-chart");
  if (!dataEl || !chartEl || !window.PaylaneMoney) return;

  var data;
  try {
    data = JSON.parse(dataEl.textContent);
  } catch (e) {
    return;
  }
  var M = window.PaylaneMoney;
  var SVG = "http://www.w3.org/2000/svg";
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var DAYS = data.balances.length || 30;
  var COUNTERPARTIES = 6;
  var PAYEES = 5;
  var version = null;

  function money(amount) {
    return M.format(amount, data.currency);
  }

  function dayLabel(iso) {
    return Number(iso.slice(8, 10)) + " " + MONTHS[Number(iso.slice(5, 7)) - 1];
  }

  function node(tag, attrs, text) {
    var n = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      n.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function el(tag, className, text) {
    var n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // --- The chart -----------------------------------------------------------------------------
  function drawChart() {
    var W = 320, H = 150, left = 8, right = 8, top = 18, bottom = 22;
    var points = data.balances;
    var values = points.map(function (p) {
      return M.cents(p.balance);
    });
    var max = Math.max.apply(null, values.concat([0]));
    var min = Math.min.apply(null, values.concat([0]));
    if (max === min) max = min + 100;
    var x = function (i) {
      return left + (i * (W - left - right)) / Math.max(1, points.length - 1);
    };
    var y = function (v) {
      return top + (H - top - bottom) * (1 - (v - min) / (max - min));
    };
    var svg = node("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "balance-chart-caption" });
    svg.appendChild(node("line", { class: "axis", x1: left, x2: W - right, y1: y(min), y2: y(min) }));
    var line = values.map(function (v, i) {
      return x(i).toFixed(1) + "," + y(v).toFixed(1);
    });
    var area = "M" + x(0).toFixed(1) + "," + y(min).toFixed(1) + " L" + line.join(" L") + " L" + x(values.length - 1).toFixed(1) + "," + y(min).toFixed(1) + " Z";
    svg.appendChild(node("path", { class: "area", d: area }));
    svg.appendChild(node("polyline", { class: "line", points: line.join(" ") }));
    var last = values.length - 1;
    svg.appendChild(node("circle", { class: "dot", cx: x(last), cy: y(values[last]), r: 3.5 }));
    svg.appendChild(node("text", { class: "tick", x: left, y: 12 }, money(M.fromCents(max))));
    svg.appendChild(node("text", { class: "tick", x: left, y: H - 6 }, dayLabel(points[0].day)));
    svg.appendChild(node("text", { class: "tick", x: W - right, y: H - 6, "text-anchor": "end" }, "today"));
    chartEl.textContent = "";
    chartEl.appendChild(svg);
    var caption = document.getElementById("balance-chart-caption");
    if (caption) {
      caption.textContent = "From " + money(points[0].balance) + " on " + dayLabel(points[0].day) + " to " + money(points[last].balance) + " today.";
    }
  }

  // --- By person, this month -------------------------------------------------------------------
  function drawCounterparties() {
    var body = document.querySelector("#counterparties tbody");
    if (!body) return;
    body.textContent = "";
    var rows = data.counterparties.slice(0, COUNTERPARTIES);
    if (!rows.length) {
      var tr = el("tr", "empty-row");
      var td = el("td", "empty", "Nobody paid or was paid this month yet.");
      td.setAttribute("colspan", "3");
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (c) {
      var tr = el("tr");
      tr.setAttribute("data-user", String(c.user_id));
      var th = el("th", "", c.username);
      th.setAttribute("scope", "row");
      tr.appendChild(th);
      tr.appendChild(el("td", "num in", M.cents(c["in"]) ? "+" + money(c["in"]) : ""));
      tr.appendChild(el("td", "num out", M.cents(c.out) ? "\u2212" + money(c.out) : ""));
      body.appendChild(tr);
    });
  }

  // --- Pay again ---------------------------------------------------------------------------------
  function drawPayees() {
    var list = document.getElementById("payees");
    if (!list) return;
    list.textContent = "";
    if (!data.payees.length) {
      list.appendChild(el("li", "empty", "People you pay show up here, one tap to pay them again."));
      return;
    }
    data.payees.slice(0, PAYEES).forEach(function (p) {
      var li = el("li");
      var a = el("a", "pay-again");
      a.href = "/transfer/?to=" + encodeURIComponent(p.user_id);
      var avatar = el("span", "avatar", (p.username.charAt(0) || "?").toUpperCase());
      avatar.setAttribute("aria-hidden", "true");
      a.appendChild(avatar);
      a.appendChild(el("span", "visually-hidden", "Pay ")); // read as "Pay bob again"; seen as "bob"
      a.appendChild(document.createTextNode(p.username));
      a.appendChild(el("span", "visually-hidden", " again"));
      li.appendChild(a);
      list.appendChild(li);
    });
  }

  // --- Live --------------------------------------------------------------------------------------
  function rollTo(day) {
    // The page stayed open past midnight: a new day starts from the last balance.
    while (data.balances.length && data.balances[data.balances.length - 1].day < day) {
      var lastDay = data.balances[data.balances.length - 1];
      var next = new Date(lastDay.day + "T12:00:00Z");
      next.setUTCDate(next.getUTCDate() + 1);
      data.balances.push({ day: next.toISOString().slice(0, 10), balance: lastDay.balance });
      if (data.balances.length > DAYS) data.balances.shift();
    }
  }

  function onTransaction(frame, me) {
    var tx = frame.transaction;
    if (!tx || tx.status !== "SUCCESS") return;
    var day = (tx.created_at || "").slice(0, 10);
    if (day) rollTo(day);
    if (version === null || frame.version > version) {
      version = frame.version;
      data.balances[data.balances.length - 1].balance = frame.balance;
    }
    var outgoing = tx.sender && tx.sender.user_id === me;
    var other = outgoing ? tx.receiver : tx.sender;
    if (tx.type !== "ADD_MONEY" && other && day.slice(0, 7) === data.month) {
      var found = null;
      data.counterparties.forEach(function (c) {
        if (c.user_id === other.user_id) found = c;
      });
      if (!found) {
        found = { user_id: other.user_id, username: other.username, in: "0.00", out: "0.00" };
        data.counterparties.push(found);
      }
      var key = outgoing ? "out" : "in";
      found[key] = M.fromCents(M.cents(found[key]) + M.cents(tx.amount));
      data.counterparties.sort(function (a, b) {
        var diff = M.cents(b["in"]) + M.cents(b.out) - M.cents(a["in"]) - M.cents(a.out);
        return diff || a.username.toLowerCase().localeCompare(b.username.toLowerCase());
      });
    }
    if (tx.type === "TRANSFER" && outgoing) {
      data.payees = data.payees.filter(function (p) {
        return p.user_id !== tx.receiver.user_id;
      });
      data.payees.unshift({ user_id: tx.receiver.user_id, username: tx.receiver.username });
    }
    drawChart();
    drawCounterparties();
    drawPayees();
  }

  document.addEventListener("paylane:transaction", function (event) {
    onTransaction(event.detail.frame, event.detail.userId);
  });
  document.addEventListener("paylane:hello", function (event) {
    var f = event.detail.frame;
    if (version === null || f.version > version) {
      version = f.version;
      data.balances[data.balances.length - 1].balance = f.balance;
      drawChart();
    }
  });

  drawChart();
})();
