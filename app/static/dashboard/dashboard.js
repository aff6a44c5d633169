// "Copy" buttons: copy the value of the input named by data-copy (the input stays selectable
// for browsers without the Clipboard API).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  input.select();
  navigator.clipboard.writeText(input.value).then(
    () => { button.textContent = "Copied"; },
    () => { button.textContent = "Press Ctrl+C to copy"; },
  );
});
