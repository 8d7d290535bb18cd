// The copy button of a Python console block (a docstring's ">>>" example) copies the code only:
// no ">>> " or "... " prompts and no output lines. Pygments marks a prompt with class "gp" and
// output with "go"; a line is code when it starts with a prompt. mkdocs-material's copy button
// copies the "data-copy" attribute of the code element when there is one, so this script sets
// it on every code block that has a prompt. Blocks without prompts copy as they are.
(function () {
  "use strict";

  // The lines of `code` that follow a prompt, prompts removed.
  function codeWithoutPrompts(code) {
    var lines = [];
    var line = { text: "", prompt: false };
    var walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var span = node.parentElement;
      var isPrompt = span !== code && span.classList.contains("gp");
      var isOutput = span !== code && span.classList.contains("go");
      var pieces = node.nodeValue.split("\n");
      for (var i = 0; i < pieces.length; i++) {
        if (i > 0) {
          lines.push(line);
          line = { text: "", prompt: false };
        }
        if (isPrompt) {
          line.prompt = true;
        } else if (!isOutput) {
          line.text += pieces[i];
        }
      }
    }
    lines.push(line);
    return lines
      .filter(function (l) { return l.prompt; })
      .map(function (l) { return l.text.replace(/\s+$/, ""); })
      .join("\n");
  }

  function mark() {
    var blocks = document.querySelectorAll(".highlight pre > code");
    for (var i = 0; i < blocks.length; i++) {
      if (blocks[i].querySelector(".gp")) {
        blocks[i].setAttribute("data-copy", codeWithoutPrompts(blocks[i]));
      }
    }
  }

  // With instant navigation mkdocs-material swaps pages without loading them; document$ tells.
  if (typeof document$ !== "undefined") {
    document$.subscribe(mark);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
})();
