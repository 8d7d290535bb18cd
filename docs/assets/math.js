// Typesets the math that pymdownx.arithmatex (generic mode) leaves in the page:
// <span class="arithmatex">\(...\)</span> inline and <div class="arithmatex">\[...\]</div>
// displayed, with the KaTeX bundled under assets/katex/ (the site fetches nothing elsewhere).
// document$ is mkdocs-material's: it emits on the first load and after each instant navigation.
document$.subscribe(() => {
  for (const el of document.querySelectorAll(".arithmatex:not(.katex-done)")) {
    const tex = el.textContent.trim().replace(/^\\[([]/, "").replace(/\\[)\]]$/, "");
    katex.render(tex, el, { displayMode: el.tagName === "DIV", throwOnError: false });
    el.classList.add("katex-done");
  }
});
