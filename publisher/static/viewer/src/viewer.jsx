// Lantai's IIIF viewer: Clover IIIF on every element with data-iiif-manifest.
// Built by scripts/viewer-setup.sh into dist/viewer.js; the pages load it from /static/viewer/.
import React from "react";
import { createRoot } from "react-dom/client";
import i18next from "i18next";
import Viewer from "@samvera/clover-iiif/viewer";

// Clover's own words (its keys) in the page's language come from the server's message
// catalog, in data-words (iiif/presentation_api.py, VIEWER_WORDS): Clover ships no Chinese.
function words(el) {
  try {
    const parsed = JSON.parse(el.getAttribute("data-words") || "{}");
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch (e) {
    return {};
  }
}

function pageLanguage(el) {
  const lang = el.getAttribute("data-lang") || document.documentElement.lang || "zh";
  return lang.toLowerCase().startsWith("en") ? "en" : "zh";
}

function mount(el) {
  const manifest = el.getAttribute("data-iiif-manifest");
  const lang = pageLanguage(el);
  // Clover shows the first language of every label: the server puts the page's language
  // first when asked by Accept-Language (iiif/presentation_api.py, preferred_language).
  const options = {
    canvasHeight: el.getAttribute("data-height") || "480px",
    showIIIFBadge: true,
    showTitle: false,
    informationPanel: { open: true, renderAbout: true, renderToggle: true },
    openSeadragon: { gestureSettingsMouse: { scrollToZoom: true } },
    requestHeaders: { "Accept-Language": lang },
  };
  el.setAttribute("data-viewer", "clover");
  createRoot(el).render(
    <Viewer iiifContent={manifest} options={options} customTheme={{}} />
  );
}

function start() {
  const first = document.querySelector("[data-iiif-manifest]:not([data-viewer])");
  if (first) {
    // Clover's buttons and tabs in the page's language (one language per page)
    const lang = pageLanguage(first);
    i18next.addResourceBundle(lang, "clover", words(first), true, true);
    i18next.changeLanguage(lang);
  }
  // a page may hold several viewers, each with its own script tag: mount each once
  document.querySelectorAll("[data-iiif-manifest]:not([data-viewer])").forEach(mount);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
