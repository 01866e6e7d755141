/**
 * A signal that aborts with a `TimeoutError` DOMException (what `AbortSignal.timeout` gives)
 * after `ms` milliseconds, or at once for 0 or less.
 *
 * Not `AbortSignal.timeout`: Node 20 holds that signal only weakly, so combined by
 * `AbortSignal.any` it is garbage-collected before it fires once a GC runs, and the call's
 * deadline never comes (checked on Node 20.20.2). Here the timer holds the controller. The timer
 * does not keep the process alive, and stops early when `until` aborts (the call ended).
 */
export function deadlineSignal(ms: number, until?: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const expire = (): void =>
    controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
  if (ms <= 0) {
    expire();
    return controller.signal;
  }
  const timer = setTimeout(expire, ms);
  timer.unref();
  until?.addEventListener("abort", () => clearTimeout(timer), { once: true });
  return controller.signal;
}
