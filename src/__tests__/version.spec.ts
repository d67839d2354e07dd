import * as fs from 'fs';
import * as path from 'path';

import { PACKAGE_VERSION } from '../version';

describe('PACKAGE_VERSION', () => {
  it('is package.json version (the Python widgets ask for ^<version>)', () => {
    const pkg = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf-8')
    );
    expect(PACKAGE_VERSION).toBe(pkg.version);
  });
});
