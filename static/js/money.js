/* Paylane's one money format in the browser: "INR 4,637.75", as the templates' |money filter
 * (ledger.money.money_format). Amounts arrive as strings ("4637.75") and are never turned into floats.
 */
(function () {
  "use strict";

  function format(amount, currency) {
    var text = String(amount);
    var negative = text.charAt(0) === "-";
    var parts = (negative ? text.slice(1) : text).split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-" : "") + (currency || "INR") + " " + whole + "." + ((parts[1] || "") + "00").slice(0, 2);
  }

  // Adds two amounts given as strings, exactly, in whole cents (no floating point on the way).
  function cents(amount) {
    var text = String(amount);
    var negative = text.charAt(0) === "-";
    var parts = (negative ? text.slice(1) : text).split(".");
    var value = Number(parts[0]) * 100 + Number(((parts[1] || "") + "00").slice(0, 2));
    return negative ? -value : value;
  }

  function fromCents(value) {
    var negative = value < 0;
    var abs = Math.abs(value);
    var rest = String(abs % 100);
    return (negative ? "-" : "") + Math.floor(abs / 100) + "." + (rest.length < 2 ? "0" + rest : rest);
  }

  window.PaylaneMoney = { format: format, cents: cents, fromCents: fromCents };
})();
