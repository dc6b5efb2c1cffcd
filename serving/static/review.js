// Apply a filter as soon as it changes (the Filter button still works without JavaScript).
document.querySelectorAll("#filters select").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});
