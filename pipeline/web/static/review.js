// Keyboard-only review. The first field to check has focus with its text selected, so
// typing replaces it and Enter accepts it; the server's answer (htmx) replaces the card,
// and focus moves on to the next field to check. Alt+P shows the page large.
(function () {
  "use strict";

  function openCards() {
    return Array.from(document.querySelectorAll(".card.open"));
  }

  function focusCard(card) {
    if (!card) return;
    const target = card.querySelector("input[name=override]") ||
      card.querySelector("input[name=value]") || card.querySelector("button.ack");
    if (!target) return;
    target.focus();
    if (target.select) target.select();
    highlight(card.dataset.field);
  }

  function focusAfter(name) {
    const cards = openCards();
    const all = Array.from(document.querySelectorAll(".card"));
    const at = all.findIndex((c) => c.dataset.field === name);
    const next = cards.find((c) => all.indexOf(c) > at) || cards[0];
    focusCard(next);
  }

  function highlight(name) {
    document.querySelectorAll("rect.box.current").forEach((r) => r.classList.remove("current"));
    if (!name) return;
    const rect = document.querySelector('rect.box[data-field="' + CSS.escape(name) + '"]');
    if (rect) {
      rect.classList.add("current");
      const panel = document.getElementById("page-panel");
      if (panel && !panel.classList.contains("large")) {
        rect.scrollIntoView({ block: "nearest", inline: "nearest" });
      }
    }
  }

  document.addEventListener("focusin", function (e) {
    const card = e.target.closest && e.target.closest(".card");
    if (card) highlight(card.dataset.field);
  });

  document.addEventListener("keydown", function (e) {
    if (e.altKey && (e.key === "p" || e.key === "P")) {
      const panel = document.getElementById("page-panel");
      if (panel) panel.classList.toggle("large");
      e.preventDefault();
    } else if (e.key === "Escape") {
      const panel = document.getElementById("page-panel");
      if (panel) panel.classList.remove("large");
    }
  });

  // 409 (someone else changed the record) and 422 (the value still breaks a rule) carry
  // a card to show, not an error page.
  document.addEventListener("htmx:beforeSwap", function (e) {
    const status = e.detail.xhr.status;
    if (status === 409 || status === 422) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    const id = e.detail.elt && e.detail.elt.id;
    if (!id || !id.startsWith("card-")) return;
    const card = document.getElementById(id);
    if (card && card.classList.contains("open")) {
      focusCard(card); // refused: the reason (or the value) again
    } else {
      focusAfter(id.slice(5));
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    focusCard(openCards()[0]);
  });
})();
