/* The verify page (/verify): the receipt's print button, shown only when this script runs
   (without it the browser's own print command prints the same page, print.css rules in
   receipt.css). */
(function () {
  "use strict";
  var button = document.querySelector("[data-print]");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  }
})();
