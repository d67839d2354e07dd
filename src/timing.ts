/**
 * Named moments of a view's work, as User Timing marks: the browser's performance panel
 * shows them, and `make bench` reads them to split a plot's wait into phases. Only the
 * latest mark of each name is kept, so a long session does not fill the performance buffer.
 */
export function markTiming(name: string): void {
  if (typeof performance === 'undefined' || !performance.mark) {
    return;
  }
  performance.clearMarks(name);
  performance.mark(name);
}
