// The service worker: keeps the app shell (page, script, styles, icon) so the app opens with no network.
// Records and the outbox live in IndexedDB, not here; /api/ is never cached.
import { cleanupOutdatedCaches, precacheAndRoute } from "workbox-precaching";

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// Background Sync, where the browser has it: wake an open app to sync its outbox.
self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") {
    event.waitUntil(
      self.clients.matchAll({ type: "window" }).then((clients) => clients.forEach((c) => c.postMessage("sync"))),
    );
  }
});
