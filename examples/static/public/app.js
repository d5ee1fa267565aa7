// Served from public/app.js: proves the script tag's URL works.
const p = document.getElementById("js");
if (p) {
  p.textContent = "app.js ran (served from public/app.js at " + new Date().toLocaleTimeString() + ").";
  p.className = "ran";
}
