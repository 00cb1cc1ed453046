// One in-page confirm dialog for the whole app (no native dialogs: WebDriver and
// keyboard users can reach this one like any other element).
export type ConfirmRequest = {
  title: string;
  message: string;
  ok: string;
  cancel: string;
  danger: boolean;
  /** More than one way on (besides cancel): buttons in this order; `ok` is then unused. */
  choices?: { id: string; label: string; primary?: boolean }[];
  resolve: (ok: boolean, choice?: string) => void;
};

export const dialog = $state<{ current: ConfirmRequest | null }>({ current: null });

export function confirmDialog(
  title: string,
  message: string,
  options: { ok?: string; cancel?: string; danger?: boolean } = {},
): Promise<boolean> {
  // A second request answers the first with "cancel".
  dialog.current?.resolve(false);
  return new Promise((resolve) => {
    dialog.current = {
      title,
      message,
      ok: options.ok ?? "OK",
      cancel: options.cancel ?? "Cancel",
      danger: options.danger ?? false,
      resolve: (ok) => {
        dialog.current = null;
        resolve(ok);
      },
    };
  });
}

/** Ask which of several ways to go on; the chosen id, or null when cancelled. */
export function chooseDialog(
  title: string,
  message: string,
  choices: { id: string; label: string; primary?: boolean }[],
  cancel = "Cancel",
): Promise<string | null> {
  dialog.current?.resolve(false);
  return new Promise((resolve) => {
    dialog.current = {
      title,
      message,
      ok: "",
      cancel,
      danger: false,
      choices,
      resolve: (ok, choice) => {
        dialog.current = null;
        resolve(ok && choice ? choice : null);
      },
    };
  });
}
