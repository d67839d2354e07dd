/**
 * Text in Plotly figures: escaping user-controlled names (Plotly renders a subset of HTML
 * in labels and hover text), the lines a label shows, and measuring them.
 */

/** Width in pixels of one line of text at a font size, in the plot's font. */
export type TextMeasure = (text: string, fontSize: number) => number;

/** A width for one line of text without a canvas to measure it on (tests, exports). */
export const estimateTextWidth: TextMeasure = (text, fontSize) =>
  text.length * fontSize * 0.6;

/** Plotly renders a subset of HTML in labels: user-controlled text must not be markup. */
export function escapeLabel(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** The lines of a label as shown: `<br>` breaks lines, other tags and entities go. */
export function plainLines(label: string): string[] {
  return label.split(/<br\s*\/?>/i).map(line =>
    line
      .replace(/<[^>]*>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&')
  );
}
