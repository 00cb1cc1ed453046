// One in-page confirm dialog for the whole app (no native dialogs: WebDriver and
// keyboard users can reach this one like any other element).
export type ConfirmRequest = {
  title: string;
  message: string;
  ok: string;
  cancel: string;
  danger: boolean;
  resolve: (ok: boolean) => void;
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
