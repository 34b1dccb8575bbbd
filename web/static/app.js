// shadowmap web view: small progressive enhancements only; every page
// works without JavaScript.
"use strict";

// overview and inventory (web/inventory.go): a header checkbox ticks or
// unticks every app of the page for the bulk status form.
document.addEventListener("change", function (e) {
  var all = e.target;
  if (!all.matches || !all.matches("input[data-select-all]") || !all.form) {
    return;
  }
  all.form.querySelectorAll('input[type="checkbox"][name="id"]').forEach(function (box) {
    box.checked = all.checked;
  });
});
