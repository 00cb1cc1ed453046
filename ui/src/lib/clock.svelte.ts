// A clock for "in 5 minutes" texts and next-run lists: ticks once a second while
// some screen uses it, so relative times and lists that pass their first entry
// stay true without reloading.
export const clock = $state({ now: Date.now() });

let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

/** Start ticking for a component (call in onMount); returns the stop to call on destroy. */
export function useClock(): () => void {
  users++;
  clock.now = Date.now();
  timer ??= setInterval(() => (clock.now = Date.now()), 1000);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    users--;
    if (users === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
