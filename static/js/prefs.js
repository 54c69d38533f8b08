// Runs in <head> before the page paints (no defer): the theme must be set before anything shows,
// and the server learns the browser's time zone for the next page (backoffice/timezones.py).
(() => {
  const root = document.documentElement;
  let theme = null;
  try { theme = localStorage.getItem("theme"); } catch (error) { /* storage blocked: follow the system */ }
  if (theme === "dark" || theme === "light") root.dataset.theme = theme;

  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("tz="));
  if (zone && (!cookie || decodeURIComponent(cookie.slice(3)) !== zone)) {
    document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
  }

  // The toggle in the top bar: light, dark, or back to the system's choice.
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-theme-toggle]");
    if (!toggle) return;
    const dark = root.dataset.theme
      ? root.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    try { localStorage.setItem("theme", root.dataset.theme); } catch (error) { /* kept for this page only */ }
    toggle.setAttribute("aria-pressed", String(!dark));
  });
})();
