// The window's close button was pressed where no tray host shows Flowpilot's
// icon (the backend's `close-asked` event): once the window closes there is no
// icon to open or quit it from, so ask whether to keep running, quit, or stay.
import { commands } from "../bindings";
import type { CloseAnswer } from "../bindings";
import { call } from "./api";
import { chooseDialog } from "./dialog.svelte";
import { showError } from "./notify.svelte";

export const CLOSE_TITLE = "Keep Flowpilot running without a tray icon?";
export const CLOSE_MESSAGE =
  "This desktop shows no tray icons, so once the window closes Flowpilot runs unseen. " +
  "Its schedules and triggers keep running; to come back, start Flowpilot again from your applications. " +
  "(On GNOME, the AppIndicator extension shows tray icons.)";

/** Ask, then tell the backend the answer (Cancel keeps the window open). */
export async function askOnClose(): Promise<CloseAnswer> {
  const choice = await chooseDialog(
    CLOSE_TITLE,
    CLOSE_MESSAGE,
    [
      { id: "keep-running", label: "Keep running in the background", primary: true },
      { id: "quit", label: "Quit Flowpilot" },
    ],
    "Keep the window open",
  );
  const answer: CloseAnswer = choice === "keep-running" ? "keep_running" : choice === "quit" ? "quit" : "stay";
  try {
    await call(commands.answerClose(answer));
  } catch (e) {
    showError(e, "Could not close the window");
  }
  return answer;
}
