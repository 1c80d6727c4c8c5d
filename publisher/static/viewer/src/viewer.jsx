// Lantai's IIIF viewer: Clover IIIF on every element with data-iiif-manifest.
// Built by scripts/viewer-setup.sh into dist/viewer.js; the pages load it from /static/viewer/.
import React from "react";
import { createRoot } from "react-dom/client";
import i18next from "i18next";
import Viewer from "@samvera/clover-iiif/viewer";

// Clover's own words in Chinese (it ships en, fi, fr, nb, nn, no, pt); the keys are Clover's.
const ZH = {
  commonClose: "关闭", commonNext: "下一个", commonOpen: "打开", commonPrevious: "上一个",
  commonSearch: "检索", commonSearchPlaceholder: "检索…", commonShare: "分享",
  commonViewAll: "查看全部", copyFailure: "复制失败", copySuccess: "已复制",
  contentSearchLoading: "正在检索…", contentSearchPlaceholder: "检索全文",
  contentSearchResultsNone: "没有结果", contentSearchResultsMore: "更多结果",
  imageFullScreen: "全屏", imageResetZoom: "复原", imageRotateLeft: "向左旋转",
  imageRotateRight: "向右旋转", imageZoomIn: "放大", imageZoomOut: "缩小",
  informationPanelTabs: "选择", informationPanelTabsClose: "查看器",
  informationPanelTabsAbout: "说明", informationPanelTabsAnnotations: "注释",
  informationPanelTabsSearch: "检索", informationPanelToggle: "更多信息",
  shareCollectionJson: "查看 IIIF 集合", shareCollectionCopy: "复制集合网址",
  shareManifestJson: "查看 IIIF 清单", shareManifestCopy: "复制清单网址",
};

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
    i18next.addResourceBundle("zh", "clover", ZH, true, true);
    i18next.changeLanguage(pageLanguage(first));
  }
  // a page may hold several viewers, each with its own script tag: mount each once
  document.querySelectorAll("[data-iiif-manifest]:not([data-viewer])").forEach(mount);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
