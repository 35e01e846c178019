// The operator console's buttons that cannot be undone (purge) ask first. A form with
// data-confirm="question" is sent only once the operator says yes; the console's CSP
// allows no inline handler, hence this file.
"use strict";
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
