// Every test gets a fresh fake backend (see helpers.ts) and a clean page.
import { afterEach } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { resetShared } from "../lib/data.svelte";
import { stopLive } from "../lib/live.svelte";
import { clearErrors } from "../lib/notify.svelte";
import { setLeaveGuard } from "../lib/router.svelte";

afterEach(() => {
  stopLive();
  clearMocks();
  resetShared();
  clearErrors();
  setLeaveGuard(null);
});
