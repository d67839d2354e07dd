import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { inflateSync } from 'zlib';

import { parseSpec, serializeSpec } from '../../plots/spec';
import { svgToPdf } from '../pdf';
import { NASTY_STRINGS, specWith } from './fixtures';

// jsdom resolves jspdf to its ES build, which jest does not transform: use the UMD builds
jest.mock('jspdf', () =>
  jest.requireActual(
    require('path').resolve('node_modules/jspdf/dist/jspdf.umd.min.js')
  )
);
jest.mock('svg2pdf.js', () =>
  jest.requireActual(
    require('path').resolve('node_modules/svg2pdf.js/dist/svg2pdf.umd.min.js')
  )
);

// jsdom has no layout or canvas: svg2pdf asks for boxes, jsPDF probes a canvas
(SVGElement.prototype as any).getBBox = () => ({
  x: 0,
  y: 0,
  width: 0,
  height: 0
});
HTMLCanvasElement.prototype.getContext = (() => null) as any;

const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="4.1667in" height="3.125in" viewBox="0 0 400 300">' +
  '<rect x="0" y="0" width="400" height="300" style="fill: rgb(255, 255, 255);"/>' +
  '<path d="M10,10L390,290" style="stroke: rgb(0, 0, 255);"/>' +
  '<text x="20" y="40" style="font-family: \'Open Sans\', verdana, arial, sans-serif; font-size: 12px;">CD3E gene label</text>' +
  '</svg>';

/** A tool of poppler-utils, when installed (the Galata test checks the real exports). */
function poppler(tool: string, args: string[]): string | null {
  const run = spawnSync(tool, args, { encoding: 'utf8' });
  return run.error ? null : run.stdout;
}

describe('svgToPdf', () => {
  const spec = specWith(['CD3E', ...NASTY_STRINGS, '(unbalanced']);
  const subject = serializeSpec(spec, { ascii: true });
  let pdf: Buffer;

  beforeAll(async () => {
    const element = new DOMParser().parseFromString(
      SVG,
      'image/svg+xml'
    ).documentElement;
    pdf = Buffer.from(
      await svgToPdf(element, {
        width: 400,
        height: 300,
        title: 'exprscope heatmap of adata',
        subject,
        keywords: 'exprscope, heatmap',
        creator: 'exprscope 0.1.0'
      })
    );
  });

  it('makes one page of CSS px × 72/96 points with the spec as Subject', () => {
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-')).toBe(true);
    expect(text).toMatch(/\/MediaBox \[0 0 300\.?0* 225\.?0*\]/);
    expect(text.match(/\/Type \/Page\b/g)).toHaveLength(1);
    // PDF literal string: backslash and parentheses escaped
    const escaped = subject.replace(/[\\()]/g, c => '\\' + c);
    expect(text).toContain(`/Subject (${escaped})`);
    expect(text).toContain('/Creator (exprscope 0.1.0)');
  });

  it('keeps text as text', () => {
    // Content streams are deflated: inflate them and look for a text-showing operator
    const text = pdf.toString('latin1');
    const streams: string[] = [];
    const re = /stream\r?\n/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const start = m.index + m[0].length;
      const end = text.indexOf('endstream', start);
      try {
        streams.push(inflateSync(pdf.subarray(start, end)).toString('latin1'));
      } catch {
        streams.push(pdf.subarray(start, end).toString('latin1'));
      }
    }
    expect(streams.join('\n')).toMatch(/\(CD3E gene label\)\s*Tj/);
  });

  it('reads back with poppler when installed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exprscope-pdf-'));
    try {
      const file = join(dir, 'plot.pdf');
      writeFileSync(file, pdf);
      const info = poppler('pdfinfo', ['-enc', 'UTF-8', file]);
      if (info === null) {
        return;
      }
      expect(info).toMatch(/Page size:\s+300 x 225 pts/);
      const line = info.split('\n').find(l => l.startsWith('Subject:'))!;
      expect(parseSpec(line.replace(/^Subject:\s+/, ''))).toEqual(spec);
      expect(poppler('pdftotext', [file, '-'])).toContain('CD3E gene label');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
