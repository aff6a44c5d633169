// The demo shop's thank-you page: ask the shop every few seconds what it has heard about the
// order and write the answer into the status (a polite live region), until there is an outcome.
// Nothing navigates: the shopper stays on the page and reads the result where it was.
(function () {
  "use strict";
  var status = document.getElementById("order-status");
  var url = status && status.getAttribute("data-poll");
  if (!url) return;
  var timer = window.setInterval(function () {
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (order) {
        if (!order || order.status === "waiting") return;
        window.clearInterval(timer);
        status.textContent = order.text;
        status.className = "status status-" + order.status;
        var hint = document.getElementById("check-again");
        if (hint) hint.remove();
        if (order.status !== "paid") {
          document.querySelector("h1").textContent = "Your order was not paid";
        }
      })
      .catch(function () { /* the next tick asks again */ });
  }, 2000);
})();
