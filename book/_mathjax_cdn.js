// Fallback used by build.sh when npm cannot fetch MathJax: load MathJax 3 from a CDN instead.
(function () {
  var script = document.createElement("script");
  script.src = "https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/tex-chtml.js";
  script.async = true;
  document.head.appendChild(script);
})();
