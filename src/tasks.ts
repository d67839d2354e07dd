/**
 * Yielding the UI thread: work split at a `nextTask()` runs as two tasks, with input and
 * painting possible between them (nothing longer than the longer half blocks the page).
 */

/**
 * A new task: `scheduler.yield` where there is one, else a message (not clamped as timers
 * are), else a timer.
 */
export function nextTask(): Promise<void> {
  const scheduler = (
    globalThis as { scheduler?: { yield?: () => Promise<void> } }
  ).scheduler;
  if (scheduler?.yield) {
    return scheduler.yield();
  }
  return new Promise(resolve => {
    if (typeof MessageChannel === 'undefined') {
      setTimeout(resolve, 0);
      return;
    }
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
