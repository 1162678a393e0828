// Tributary UI: theme choice and keyboard shortcuts. Everything else is HTML and htmx.
(function () {
  var root = document.documentElement;
  var saved = localStorage.getItem("tributary-theme");
  if (saved) root.setAttribute("data-theme", saved);
  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-theme-toggle]");
    if (!t) return;
    var dark = root.getAttribute("data-theme") === "dark" ||
      (!root.getAttribute("data-theme") && matchMedia("(prefers-color-scheme: dark)").matches);
    var next = dark ? "light" : "dark";
    root.setAttribute("data-theme", next);
    localStorage.setItem("tributary-theme", next);
  });
  // "/" focuses the query bar; Escape leaves it.
  document.addEventListener("keydown", function (e) {
    var q = document.getElementById("q");
    if (!q) return;
    if (e.key === "/" && document.activeElement !== q && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      e.preventDefault();
      q.focus();
      q.select();
    } else if (e.key === "Escape" && document.activeElement === q) {
      q.blur();
    }
  });
})();
